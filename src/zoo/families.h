// The zoo's model families. Each lists the names it builds; zoo.cpp joins the lists into the registry.
#pragma once
#include <string>
#include <vector>

#include "mixprec/zoo.h"

namespace mixprec::zoo {

struct ZooEntry {
  std::string name;
  ZooModel (*build)(const std::string& name, const ZooOptions& opt);
};

std::vector<ZooEntry> resnet_family();        // resnet.cpp: Gluon ResNet v1 / v2 (ImageNet)
std::vector<ZooEntry> cifar_resnet_family();  // cifar_resnet.cpp: GluonCV cifar_resnet20_v1, resnet_deep
std::vector<ZooEntry> mobilenet_family();     // mobilenet.cpp: MobileNet v1 and v2
std::vector<ZooEntry> vgg_family();           // vgg.cpp
std::vector<ZooEntry> squeezenet_family();    // squeezenet.cpp
std::vector<ZooEntry> densenet_family();      // densenet.cpp
std::vector<ZooEntry> inception_family();     // inception.cpp
std::vector<ZooEntry> transformer_family();   // bert.cpp: bert_base, transformer_deep

}  // namespace mixprec::zoo
