// Float32 GEMM, C += A · B, for convolutions and FullyConnected.
// The register tile is 4 rows × up to 3 vectors, written with GCC vector types so that one body
// compiles to AVX2+FMA (picked at run time when the CPU has it) and to the baseline SSE2 the library
// is built for. Blocking: B is packed per thread, KC deep and NC wide, into NR-column panels (an NR
// × KC panel stays in L1 while the A rows stream past); A is read in place when row-major. C is
// split into tiles across threads, never the depth, so each element is summed by one thread in one
// fixed order: the same result on any thread count.
#include <omp.h>

#include <algorithm>

#include "mixprec/half.h"
#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

constexpr int64_t kMR = 4;       // rows of a register tile
constexpr int64_t kKC = 256;     // packed depth: a 24 × 256 B panel (24 KiB) fits L1
constexpr int64_t kNCMax = 192;  // packed width: a KC × NC B block (192 KiB) fits L2
constexpr int64_t kMaxNR = 24;

template <int W>
struct Vec {
  typedef float type __attribute__((vector_size(W * 4)));
  typedef float unaligned __attribute__((vector_size(W * 4), aligned(4), may_alias));
};

using APanel = PackedA::Panel;

// c (4 × NV·W, row stride ldc) += a (4 × kc) · b (kc × NV·W, row stride ldb). The accumulators are
// a fixed-size array of vectors, which GCC keeps in registers (12 at most, on both paths).
template <int NV, int W>
__attribute__((always_inline)) inline void tile_body(int64_t kc, APanel a, const float* __restrict b, int64_t ldb, float* __restrict c,
                                                     int64_t ldc) {
  using V = typename Vec<W>::type;
  using U = typename Vec<W>::unaligned;
  const float* ar[kMR];
  for (int i = 0; i < kMR; ++i) ar[i] = a.p + i * a.rs;
  V acc[kMR][NV] = {};
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = *reinterpret_cast<const U*>(b + k * ldb + j * W);
    for (int i = 0; i < kMR; ++i) {
      const float ai = ar[i][k * a.ks];
      for (int j = 0; j < NV; ++j) acc[i][j] += ai * bv[j];
    }
  }
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < NV; ++j) *reinterpret_cast<U*>(c + i * ldc + j * W) += acc[i][j];
}

using TileFn = void (*)(int64_t kc, APanel a, const float* b, int64_t ldb, float* c, int64_t ldc);

template <int NV>
void tile_base(int64_t kc, APanel a, const float* b, int64_t ldb, float* c, int64_t ldc) {
  tile_body<NV, 4>(kc, a, b, ldb, c, ldc);
}

#if defined(__x86_64__) || defined(__i386__)
#define MIXPREC_NN_X86 1
template <int NV>
__attribute__((target("avx2,fma"))) void tile_avx2(int64_t kc, APanel a, const float* b, int64_t ldb, float* c, int64_t ldc) {
  tile_body<NV, 8>(kc, a, b, ldb, c, ldc);
}
#endif

struct Kernels {
  int64_t width;  // floats per vector; a full tile is 3 vectors wide (NR = 3 · width)
  TileFn tile[3];  // 1, 2 and 3 vectors wide: narrow ones finish a ragged last panel
};

const Kernels& kernels_for_cpu() {
  static const Kernels k = [] {
#ifdef MIXPREC_NN_X86
    if (cpu_has_avx2_fma()) return Kernels{8, {tile_avx2<1>, tile_avx2<2>, tile_avx2<3>}};
#endif
    return Kernels{4, {tile_base<1>, tile_base<2>, tile_base<3>}};
  }();
  return k;
}

// Every packer fills dst[(panel · kc + k) · nr + j] for k < kc and the columns n0 .. n0 + ncols,
// zero beyond ncols.

// A strided float32 matrix.
struct PackMat {
  MatView b;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t ncols, int64_t nr, float* dst) {
    for (int64_t p = 0; p * nr < ncols; ++p) {
      const int64_t cols = std::min(nr, ncols - p * nr);
      float* d = dst + p * kc * nr;
      const int64_t col0 = n0 + p * nr;
      for (int64_t k = 0; k < kc; ++k) std::fill(d + k * nr + cols, d + (k + 1) * nr, 0.0f);
      if (b.cs == 1) {
        for (int64_t k = 0; k < kc; ++k) std::copy_n(b.p + (k0 + k) * b.rs + col0, cols, d + k * nr);
      } else {
        // Transposed source: walk each source row contiguously.
        for (int64_t j = 0; j < cols; ++j) {
          const float* s = b.p + (col0 + j) * b.cs + k0 * b.rs;
          for (int64_t k = 0; k < kc; ++k) d[k * nr + j] = s[k * b.rs];
        }
      }
    }
  }
};

// A float16 / bfloat16 matrix, widened as it is packed: the conversion is paid once per packed
// element and amortised over every row of A, instead of once per multiply-add.
struct PackMat16 {
  MatView16 b;
  std::vector<float> row;  // one widened source row (transposed sources)
  void widen(const uint16_t* src, float* dst, int64_t n) const {
    if (b.bfloat16) {
      bfloat16s_to_floats(src, dst, static_cast<size_t>(n));
    } else {
      halves_to_floats(src, dst, static_cast<size_t>(n));
    }
  }
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t ncols, int64_t nr, float* dst) {
    row.resize(static_cast<size_t>(kc));
    for (int64_t p = 0; p * nr < ncols; ++p) {
      const int64_t cols = std::min(nr, ncols - p * nr);
      float* d = dst + p * kc * nr;
      const int64_t col0 = n0 + p * nr;
      for (int64_t k = 0; k < kc; ++k) std::fill(d + k * nr + cols, d + (k + 1) * nr, 0.0f);
      if (b.cs == 1) {
        for (int64_t k = 0; k < kc; ++k) widen(b.p + (k0 + k) * b.rs + col0, d + k * nr, cols);
      } else {
        for (int64_t j = 0; j < cols; ++j) {
          const uint16_t* src = b.p + (col0 + j) * b.cs + k0 * b.rs;
          if (b.rs == 1) {
            widen(src, row.data(), kc);
          } else {
            for (int64_t k = 0; k < kc; ++k) widen(src + k * b.rs, row.data() + k, 1);
          }
          for (int64_t k = 0; k < kc; ++k) d[k * nr + j] = row[static_cast<size_t>(k)];
        }
      }
    }
  }
};

// im2col columns read straight from the image. The chunk's columns are cut into runs that stay in
// one output row and one panel; for a given kernel tap a run is then one (strided) slice of an input
// row, with zeros where it hangs over the padding.
struct PackIm2Col {
  Im2Col g;
  struct Run {
    int64_t at;      // offset of the run's first column inside a packed k-row: panel · kc · nr + column
    int64_t len, oy, ox;
  };
  std::vector<Run> runs;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t ncols, int64_t nr, float* dst) {
    runs.clear();
    for (int64_t j = 0; j < ncols;) {
      const int64_t n = n0 + j, oy = n / g.OW, ox = n % g.OW;
      const int64_t len = std::min({g.OW - ox, nr - j % nr, ncols - j});
      runs.push_back({j / nr * kc * nr + j % nr, len, oy, ox});
      j += len;
    }
    const int64_t taps = g.kh * g.kw, last = (ncols - 1) / nr, tail = ncols - last * nr;
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t kk = k0 + k, t = kk % taps;
      const float* plane = g.img + kk / taps * g.H * g.W;
      const int64_t dy = t / g.kw * g.dh - g.ph, dx = t % g.kw * g.dw - g.pw;
      for (const Run& r : runs) {
        float* d = dst + r.at + k * nr;
        const int64_t iy = r.oy * g.sh + dy;
        if (iy < 0 || iy >= g.H) {
          std::fill(d, d + r.len, 0.0f);
          continue;
        }
        // Input column of run element e: ix0 + e·sw; the part inside [0, W) is [lo, hi).
        const int64_t ix0 = r.ox * g.sw + dx;
        const int64_t lo = std::min(r.len, ix0 >= 0 ? 0 : (-ix0 + g.sw - 1) / g.sw);
        const int64_t hi = std::max(lo, std::min(r.len, ix0 >= g.W ? 0 : (g.W - 1 - ix0) / g.sw + 1));
        const float* src = plane + iy * g.W;
        // Plain loops: runs are short, a library call per run would cost more than the copy.
        for (int64_t e = 0; e < lo; ++e) d[e] = 0.0f;
        if (g.sw == 1) {
          for (int64_t e = lo; e < hi; ++e) d[e] = src[ix0 + e];
        } else {
          for (int64_t e = lo; e < hi; ++e) d[e] = src[ix0 + e * g.sw];
        }
        for (int64_t e = hi; e < r.len; ++e) d[e] = 0.0f;
      }
      if (tail < nr) std::fill(dst + last * kc * nr + k * nr + tail, dst + last * kc * nr + (k + 1) * nr, 0.0f);
    }
  }
};

template <class Pack>
void run_gemm(const PackedA& a, int64_t N, float* c, int64_t ldc, const Pack& proto) {
  const int64_t M = a.rows(), K = a.depth();
  if (M == 0 || N == 0 || K == 0) return;
  const Kernels& kn = kernels_for_cpu();
  const int64_t nr = 3 * kn.width;
  const int64_t T = omp_get_max_threads();
  const int64_t panels = (M + kMR - 1) / kMR;

  // Column chunks of similar width, a multiple of T in number so that threads end together.
  int64_t nchunks = (N + kNCMax - 1) / kNCMax;
  if (nchunks > 1) nchunks = (nchunks + T - 1) / T * T;
  const int64_t nc = ((N + nchunks - 1) / nchunks + nr - 1) / nr * nr;
  nchunks = (N + nc - 1) / nc;
  // Row blocks: enough to keep every thread busy when the columns are few (each block packs its own
  // copy of B, so one thread keeps one block).
  const int64_t mblocks_wanted = T == 1 ? 1 : std::clamp<int64_t>((2 * T + nchunks - 1) / nchunks, 1, panels);
  const int64_t per_block = (panels + mblocks_wanted - 1) / mblocks_wanted;
  const int64_t mblocks = (panels + per_block - 1) / per_block;
  const int64_t items = nchunks * mblocks;
  const bool parallel = items > 1 && M * N * K > (1 << 16);

#pragma omp parallel if (parallel)
  {
    Pack pack = proto;
    std::vector<float> bbuf(static_cast<size_t>(kKC * nc));
    float scratch[kMR * kMaxNR];
    // Dynamic: on a shared machine a descheduled thread should not hold the others back. Which
    // thread takes an item does not change its arithmetic.
#pragma omp for schedule(dynamic)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t n0 = it / mblocks * nc, ncols = std::min(nc, N - n0);
      const int64_t p0 = it % mblocks * per_block, p1 = std::min(panels, p0 + per_block);
      for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        pack(k0, kc, n0, ncols, nr, bbuf.data());
        for (int64_t q = 0; q * nr < ncols; ++q) {
          const float* bp = bbuf.data() + q * kc * nr;
          const int64_t cols = std::min(nr, ncols - q * nr);
          const int64_t nv = (cols + kn.width - 1) / kn.width, width = nv * kn.width;
          const TileFn tile = kn.tile[nv - 1];
          for (int64_t p = p0; p < p1; ++p) {
            APanel ap = a.panel(p);
            ap.p += k0 * ap.ks;
            const int64_t rows = std::min(kMR, M - p * kMR);
            float* cp = c + p * kMR * ldc + n0 + q * nr;
            if (rows == kMR && cols == width) {
              tile(kc, ap, bp, nr, cp, ldc);
              continue;
            }
            // Ragged edge: compute the whole tile into scratch, add back the part that exists.
            std::fill(scratch, scratch + kMR * width, 0.0f);
            tile(kc, ap, bp, nr, scratch, width);
            for (int64_t i = 0; i < rows; ++i)
              for (int64_t j = 0; j < cols; ++j) cp[i * ldc + j] += scratch[i * width + j];
          }
        }
      }
    }
  }
}

}  // namespace

bool cpu_has_avx2_fma() {
#ifdef MIXPREC_NN_X86
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
#else
  return false;
#endif
}

PackedA::PackedA(int64_t M, int64_t K, MatView a) : m_(M), k_(K) {
  const int64_t panels = (M + kMR - 1) / kMR;
  if (a.cs == 1) {
    raw_ = a;
    first_packed_ = M / kMR;
  }
  // Packed panels hold (k, i) at [k · 4 + i]; rows past M stay zero.
  data_.assign(static_cast<size_t>((panels - first_packed_) * kMR * K), 0.0f);
#pragma omp parallel for schedule(static) if ((panels - first_packed_) * K > (1 << 14))
  for (int64_t p = first_packed_; p < panels; ++p) {
    float* d = data_.data() + (p - first_packed_) * K * kMR;
    for (int64_t i = 0; i < kMR && p * kMR + i < M; ++i) {
      const float* s = a.p + (p * kMR + i) * a.rs;
      for (int64_t k = 0; k < K; ++k) d[k * kMR + i] = s[k * a.cs];
    }
  }
}

PackedA::Panel PackedA::panel(int64_t p) const {
  if (p < first_packed_) return {raw_.p + p * kMR * raw_.rs, raw_.rs, 1};
  return {data_.data() + (p - first_packed_) * k_ * kMR, 1, kMR};
}

void gemm(const PackedA& a, int64_t N, MatView b, float* c, int64_t ldc) { run_gemm(a, N, c, ldc, PackMat{b}); }

void gemm(const PackedA& a, int64_t N, MatView16 b, float* c, int64_t ldc) { run_gemm(a, N, c, ldc, PackMat16{b, {}}); }

void gemm(const PackedA& a, int64_t N, const Im2Col& b, float* c, int64_t ldc) { run_gemm(a, N, c, ldc, PackIm2Col{b, {}}); }

}  // namespace mixprec::runtime::nn
