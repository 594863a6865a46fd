#include "inspect/graph_shapes.h"

#include <exception>

#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "runtime/kernel.h"

namespace mixprec::inspect {

namespace {

// The shapes of `n`'s inputs, into `in`; false when one of them is unknown.
bool known_inputs(const ShapeTable& t, const Node& n, std::vector<Shape>& in) {
  in.clear();
  for (const Entry& e : n.inputs) {
    if (!t.at(e)) return false;
    in.push_back(*t.at(e));
  }
  return true;
}

}  // namespace

std::optional<Shape> plausible_shape(Shape shape) {
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  if (shape.size() > limits::kMaxNdim) return std::nullopt;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || d > kMaxElements / n) return std::nullopt;
    n *= d;
  }
  return shape;
}

ShapeTable infer_shapes(const Graph& g, const std::function<std::optional<Shape>(uint32_t)>& variable_shape) {
  ShapeTable t;
  t.offset.reserve(g.nodes.size() + 1);
  t.offset.push_back(0);
  auto unknown = [&](const Node& n, const std::string& why) {
    t.shapes.insert(t.shapes.end(), n.num_outputs, std::nullopt);
    if (t.unknown_why.empty() && !why.empty()) t.unknown_why = why;
  };
  std::vector<Shape> in;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      t.shapes.insert(t.shapes.end(), n.num_outputs, variable_shape(i));
    } else if (known_inputs(t, n, in)) {
      const runtime::KernelDef* k = runtime::kernels().find(n.op);
      if (!k) {
        unknown(n, "the engine has no shape rule for op " + n.op + " (node '" + n.name + "')");
      } else {
        try {
          std::vector<Shape> out = k->infer_shape(n, in);
          if (out.size() != n.num_outputs) {
            unknown(n, "node '" + n.name + "': the shape rule gave " + std::to_string(out.size()) + " shapes for " +
                           std::to_string(n.num_outputs) + " outputs");
          } else {
            for (Shape& s : out) t.shapes.push_back(std::move(s));
          }
        } catch (const Error& e) {
          unknown(n, "node '" + n.name + "': " + e.reason());
        } catch (const std::exception& e) {
          unknown(n, "node '" + n.name + "': " + e.what());
        }
      }
    } else {
      unknown(n, "");  // an input's shape is unknown; the variable's owner says why
    }
    t.offset.push_back(static_cast<uint32_t>(t.shapes.size()));
  }
  return t;
}

}  // namespace mixprec::inspect
