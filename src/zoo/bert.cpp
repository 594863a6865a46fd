// Transformer encoders in the shape of GluonNLP's BERT, exported with MXNet's legacy op set.
//
// Inputs: "data" (token ids) and "token_types" (segment ids), both (batch, seq_len) float32 as MXNet
// feeds indices. Positions are not an input: the learned position table (512 rows) is cut to seq_len
// rows with slice_axis and broadcast over the batch, as GluonNLP does for a fixed length.
//
// Per layer (post-LN): Q, K, V FullyConnected (flatten="False") -> Reshape/transpose to
// (batch*heads, seq, head_dim) -> Q * 1/sqrt(head_dim) (_mul_scalar) -> batch_dot(Q, K^T) ->
// softmax(axis=-1) -> Dropout -> batch_dot(., V) -> back to (batch, seq, hidden) -> projection ->
// Dropout -> residual elemwise_add -> LayerNorm -> FFN (FullyConnected, LeakyReLU act_type="gelu",
// FullyConnected) -> Dropout -> residual -> LayerNorm. A tanh pooler reads the first token.
// Outputs: the sequence encoding (batch, seq_len, hidden) and the pooled (batch, hidden).
//
// "bert_base" is BERT-base (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522: 109,482,240
// parameters). "transformer_deep" is a benchmark generator: hidden 256, 4 heads, FFN 1024, vocab 8192,
// `depth` layers, and one fused QKV projection split by SliceChannel (41 nodes per layer).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

struct EncoderSpec {
  std::string_view name;
  int64_t layers, hidden, heads, ffn, vocab;
  bool fused_qkv;
};

constexpr EncoderSpec kBertBase{"bert_base", 12, 768, 12, 3072, 30522, false};
constexpr EncoderSpec kDeep{"transformer_deep", 12, 256, 4, 1024, 8192, true};
constexpr int64_t kMaxLength = 512;
constexpr int64_t kTokenTypes = 2;
constexpr int64_t kNodesPerLayer = 46;  // separate Q, K, V; 41 with the fused projection

// Writes a double as Python's str() does for the values used here ("0.125", "1e-12").
std::string py_float(double v) {
  char buf[32] = {};
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

class Encoder {
 public:
  Encoder(NetBuilder& nb, const EncoderSpec& s) : nb_(nb), s_(s) {}

  ZooModel build() {
    const ZooOptions& opt = nb_.opt();
    const int64_t seq = opt.seq_len;
    if (seq < 1 || seq > kMaxLength)
      throw Error("", std::string(s_.name), "seq_len " + std::to_string(seq) + " is outside 1.." + std::to_string(kMaxLength));
    Entry tokens = nb_.input("data", {opt.batch, seq});
    Entry types = nb_.input("token_types", {opt.batch, seq});

    // Embeddings, in the bertmodel0_ scope.
    Entry x = embedding(tokens, nb_.prefix() + "word_embed_embedding0", s_.vocab);
    Entry t = embedding(types, nb_.prefix() + "token_type_embed_embedding0", kTokenTypes);
    x = nb_.op("elemwise_add", nb_.next("_plus"), {x, t});

    // Encoder, in its own top-level scope as GluonNLP exports it.
    nb_.enter_absolute("bertencoder0_");
    Entry pos = nb_.param(nb_.prefix() + "position_weight", {kMaxLength, s_.hidden}, Init::Embedding);
    pos = nb_.op("slice_axis", nb_.next("slice_axis"), {pos}, {{"axis", "0"}, {"begin", "0"}, {"end", std::to_string(seq)}});
    pos = nb_.op("expand_dims", nb_.next("expand_dims"), {pos}, {{"axis", "0"}});
    x = nb_.op("broadcast_add", nb_.next("broadcast_add"), {x, pos});
    x = dropout(layer_norm(x));
    const int64_t layers = opt.depth > 0 ? opt.depth : s_.layers;
    nb_.reserve(static_cast<size_t>(kNodesPerLayer * layers + 64));
    for (int64_t i = 0; i < layers; ++i) {
      nb_.enter_block("transformer");
      x = layer(x);
      nb_.leave();
    }
    nb_.leave();

    // Pooler: tanh(W * first token + b).
    Entry first = nb_.op("slice_axis", nb_.next("slice_axis"), {x}, {{"axis", "1"}, {"begin", "0"}, {"end", "1"}});
    first = nb_.op("Reshape", nb_.next("reshape"), {first}, {{"reverse", "False"}, {"shape", attrs::format_tuple({-1, s_.hidden})}});
    Entry pooled = dense(first, nb_.prefix() + "pooler", s_.hidden, s_.hidden);
    pooled = nb_.op("Activation", nb_.prefix() + "pooler_tanh_fwd", {pooled}, {{"act_type", "tanh"}});
    return nb_.finish({x, pooled});
  }

 private:
  Entry embedding(Entry ids, const std::string& name, int64_t rows) {
    Entry w = nb_.param(name + "_weight", {rows, s_.hidden}, Init::Embedding);
    return nb_.op("Embedding", name + "_fwd", {ids, w},
                  {{"dtype", "float32"},
                   {"input_dim", std::to_string(rows)},
                   {"output_dim", std::to_string(s_.hidden)},
                   {"sparse_grad", "False"}});
  }

  // nn.Dense(units, flatten=False) on (..., in_units).
  Entry dense(Entry x, const std::string& name, int64_t in_units, int64_t units) {
    Entry w = nb_.param(name + "_weight", {units, in_units}, Init::HeNormal, in_units);
    Entry b = nb_.param(name + "_bias", {units}, Init::Bias);
    return nb_.op("FullyConnected", name + "_fwd", {x, w, b},
                  {{"flatten", "False"}, {"no_bias", "False"}, {"num_hidden", std::to_string(units)}});
  }

  Entry layer_norm(Entry x) {
    const std::string name = nb_.next("layernorm");
    Entry g = nb_.param(name + "_gamma", {s_.hidden}, Init::Ones);
    Entry b = nb_.param(name + "_beta", {s_.hidden}, Init::Zeros);
    return nb_.op("LayerNorm", name + "_fwd", {x, g, b}, {{"axis", "-1"}, {"eps", "1e-12"}, {"output_mean_var", "False"}});
  }

  Entry dropout(Entry x) {
    return nb_.op("Dropout", nb_.next("dropout") + "_fwd", {x}, {{"axes", "()"}, {"cudnn_off", "False"}, {"p", "0.1"}});
  }

  Entry reshape(Entry x, const std::vector<int64_t>& shape) {
    return nb_.op("Reshape", nb_.next("reshape"), {x}, {{"reverse", "False"}, {"shape", attrs::format_tuple(shape)}});
  }

  Entry transpose(Entry x) { return nb_.op("transpose", nb_.next("transpose"), {x}, {{"axes", "(0, 2, 1, 3)"}}); }

  // (batch, seq, hidden) -> (batch * heads, seq, head_dim).
  Entry split_heads(Entry x) { return reshape(transpose(reshape(x, {0, 0, s_.heads, -1})), {-3, 0, 0}); }
  // The inverse.
  Entry merge_heads(Entry x) { return reshape(transpose(reshape(x, {-4, -1, s_.heads, 0, 0})), {0, 0, -3}); }

  Entry attention(Entry x) {
    nb_.enter_block("dotproductselfattentioncell");
    const std::string p = nb_.prefix();
    Entry q, k, v;
    if (s_.fused_qkv) {
      Entry qkv = dense(x, p + "qkv", s_.hidden, 3 * s_.hidden);
      qkv = nb_.op("SliceChannel", nb_.next("split"), {qkv}, {{"axis", "-1"}, {"num_outputs", "3"}, {"squeeze_axis", "False"}});
      q = GraphBuilder::out(qkv, 0), k = GraphBuilder::out(qkv, 1), v = GraphBuilder::out(qkv, 2);
    } else {
      q = dense(x, p + "query", s_.hidden, s_.hidden);
      k = dense(x, p + "key", s_.hidden, s_.hidden);
      v = dense(x, p + "value", s_.hidden, s_.hidden);
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(s_.hidden / s_.heads));
    q = nb_.op("_mul_scalar", nb_.next("_mulscalar"), {split_heads(q)}, {{"scalar", py_float(scale)}});
    k = split_heads(k);
    v = split_heads(v);
    Entry score = nb_.op("batch_dot", nb_.next("batch_dot"), {q, k}, {{"transpose_a", "False"}, {"transpose_b", "True"}});
    Entry att = dropout(nb_.op("softmax", nb_.next("softmax"), {score}, {{"axis", "-1"}}));
    Entry ctx = nb_.op("batch_dot", nb_.next("batch_dot"), {att, v}, {{"transpose_a", "False"}, {"transpose_b", "False"}});
    ctx = merge_heads(ctx);
    nb_.leave();
    return ctx;
  }

  Entry layer(Entry x) {
    Entry y = dense(attention(x), nb_.prefix() + "proj", s_.hidden, s_.hidden);
    y = nb_.op("elemwise_add", nb_.next("_plus"), {dropout(y), x});
    x = layer_norm(y);
    nb_.enter_block("positionwiseffn");
    const std::string p = nb_.prefix();
    y = dense(x, p + "ffn_1", s_.hidden, s_.ffn);
    y = nb_.op("LeakyReLU", nb_.next("gelu") + "_fwd", {y}, {{"act_type", "gelu"}});
    y = dense(y, p + "ffn_2", s_.ffn, s_.hidden);
    y = nb_.op("elemwise_add", nb_.next("_plus"), {dropout(y), x});
    y = layer_norm(y);
    nb_.leave();
    return y;
  }

  NetBuilder& nb_;
  const EncoderSpec& s_;
};

ZooModel build(const std::string& name, const ZooOptions& opt) {
  const EncoderSpec& spec = name == kBertBase.name ? kBertBase : kDeep;
  if (name != spec.name) throw Error("transformer: no model named '" + name + "'");
  NetBuilder nb(name, "bertmodel0_", opt);
  return Encoder(nb, spec).build();
}

}  // namespace

std::vector<ZooEntry> transformer_family() {
  return {{std::string(kBertBase.name), build}, {std::string(kDeep.name), build}};
}

}  // namespace mixprec::zoo
