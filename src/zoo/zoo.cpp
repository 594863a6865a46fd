// The zoo's registry: every family's names, one table.
#include "mixprec/zoo.h"

#include "mixprec/error.h"
#include "zoo/families.h"

namespace mixprec::zoo {
namespace {

const std::vector<ZooEntry>& registry() {
  static const std::vector<ZooEntry> all = [] {
    std::vector<ZooEntry> r;
    for (auto family : {resnet_family, cifar_resnet_family, mobilenet_family, vgg_family, squeezenet_family,
                        densenet_family, inception_family, transformer_family}) {
      std::vector<ZooEntry> f = family();
      r.insert(r.end(), f.begin(), f.end());
    }
    return r;
  }();
  return all;
}

}  // namespace

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const ZooEntry& e : registry()) names.push_back(e.name);
  return names;
}

ZooModel build_zoo_model(const std::string& name, const ZooOptions& opt) {
  if (opt.batch < 1 || opt.image_size < 0 || opt.classes < 0 || opt.depth < 0)
    throw Error("", name, "batch must be positive and image_size, classes and depth non-negative");
  for (const ZooEntry& e : registry())
    if (e.name == name) return e.build(name, opt);
  std::string valid;
  for (const ZooEntry& e : registry()) valid += (valid.empty() ? "" : ", ") + e.name;
  throw Error("", "zoo", "unknown model '" + name + "'; valid names: " + valid);
}

}  // namespace mixprec::zoo
