// Hard limits on what the readers accept. Input beyond a limit is refused with a mixprec::Error
// naming the file, the place and the limit; nothing is allocated for it first. Every size read
// from a file (shape products, string lengths, list counts, archive member sizes) is also checked
// against the bytes the file actually holds before anything is allocated for it, so a small file
// can never make a reader allocate much more than its own size.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mixprec::limits {

// Symbol JSON: deepest array/object nesting. A real graph nests about 6 levels, plus about 4 per
// level of subgraph; the cap keeps every recursive step (the parser, the reader, the writer)
// shallow.
inline constexpr size_t kMaxJsonNesting = 1024;

// Symbol JSON: subgraphs nested inside subgraphs (control-flow ops), counting the top graph as 0.
inline constexpr int kMaxSubgraphDepth = 64;

// Symbol JSON: nodes in one graph (the top graph or any one subgraph), before the loader adds the
// aux variables old files omit. The largest real graphs have about 10^5 nodes.
inline constexpr size_t kMaxNodes = 10'000'000;

// Symbol JSON: outputs of one node (the `num_outputs` attribute of SliceChannel and friends, or
// the difference of two `node_row_ptr` items).
inline constexpr uint32_t kMaxNodeOutputs = 65'536;

// Symbol JSON: outputs of all nodes of one graph together may number at most the input entries
// and heads that read outputs, plus this many per node, plus kMaxNodeOutputs. Every output is a
// tensor later steps (type inference, conversion) keep state for, but declaring one costs a few
// bytes, so their number must stay in proportion to the file's size. Real graphs leave at most
// two or three outputs of a node unread (BatchNorm's mean and variance, Dropout's mask).
inline constexpr size_t kMaxUnreadOutputsPerNode = 4;

// Tensors (.params, .npy, .npz): number of dimensions. MXNet never builds arrays with more.
inline constexpr size_t kMaxNdim = 32;

// Tensors: the element count must fit in int64_t (Tensor::numel) and the byte count in the
// bytes the file holds; there is no other size cap.

// Engine (runtime::Session), checked while it plans, before any activation is allocated. Input
// shapes come from the command line or a variable's __shape__, so they are checked like file sizes:
// every activation's element count must fit in int64_t, and one activation (held as float32
// whatever its dtype) may take at most this many bytes. 1 TiB is beyond the memory of any CPU
// machine the engine runs on, and keeps byte counts and their sums far from overflowing 64 bits.
inline constexpr uint64_t kMaxActivationBytes = uint64_t{1} << 40;

// Engine: the activations a run holds at once (inputs, outputs, and every tensor still to be read,
// in the order the session runs the nodes) may take at most the machine's physical memory, as
// sysconf reports it. A run past that could only swap or be killed; below it, it is left to the OS.
// Not checked when sysconf cannot tell.

}  // namespace mixprec::limits
