// numpy .npz archives: ZIP files whose members are "<name>.npy" arrays.
// Reading trusts the central directory (local headers may carry zeros when a data descriptor
// follows) and treats every size in the file as hostile until checked against the file itself.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/file_io.h"
#include "formats/numpy/npy_detail.h"
#include "mixprec/error.h"
#include "mixprec/numpy.h"

namespace mixprec::numpy {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kLocator64Sig = 0x07064b50;
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kEnd64Size = 56;
constexpr size_t kLocator64Size = 20;
constexpr uint16_t kZip64Tag = 0x0001;
constexpr uint64_t kMax16 = 0xFFFF;
constexpr uint64_t kMax32 = 0xFFFFFFFFu;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagUtf8 = 0x0800;
// Deflate emits at least 2 bits per 258-byte match, so no stream expands more than ~1032:1 (plus
// block headers); a member declaring more is a lie that must not size an allocation.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kDeflateSlack = 1024;
// zlib's counters are 32-bit: feed it at most this much at a time.
constexpr size_t kZlibChunk = size_t{1} << 30;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return static_cast<uint32_t>(le16(p)) | static_cast<uint32_t>(le16(p + 2)) << 16; }
uint64_t le64(const uint8_t* p) { return static_cast<uint64_t>(le32(p)) | static_cast<uint64_t>(le32(p + 4)) << 32; }

std::string hex32(uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xf];
  return s;
}

std::string byte_place(uint64_t at) { return "byte " + std::to_string(at); }
std::string member_place(const std::string& name) { return "member '" + name + "'"; }

uint32_t crc_of(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0) {
    const size_t k = std::min(n, kZlibChunk);
    crc = static_cast<uint32_t>(crc32_z(crc, p, k));
    p += k;
    n -= k;
  }
  return crc;
}

struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0;
  uint64_t usize = 0;
  uint64_t local_at = 0;
  uint64_t data_at = 0;  // filled from the local header
};

// Fills the fields a ZIP64 extra field replaces (those saturated at 0xFFFFFFFF), in the order the
// format fixes: uncompressed size, compressed size, local header offset.
void apply_zip64_extra(const uint8_t* extra, size_t len, Entry& e, const std::string& source, const std::string& place) {
  auto fail = [&](const std::string& why) { throw Error(source, place, why); };
  bool seen = false;
  for (size_t q = 0; q < len;) {
    if (len - q < 4) fail("truncated extra field");
    const uint16_t tag = le16(extra + q), n = le16(extra + q + 2);
    q += 4;
    if (n > len - q) fail("extra field runs past its entry");
    if (tag == kZip64Tag && !seen) {
      seen = true;
      size_t r = 0;
      for (uint64_t* v : {&e.usize, &e.csize, &e.local_at}) {
        if (*v != kMax32) continue;
        if (n - r < 8) fail("ZIP64 extra field is too short");
        *v = le64(extra + q + r);
        r += 8;
      }
    }
    q += n;
  }
  if (e.usize == kMax32 && e.csize == kMax32 && !seen) fail("saturated sizes without a ZIP64 extra field");
}

// Inflates a raw deflate stream into exactly `usize` bytes; anything else is an error. The output
// grows with what the stream actually produces (the declared size is only an upper bound, up to
// ~1000x the compressed size), so a member that lies about its size costs no memory.
std::vector<uint8_t> inflate_exact(const uint8_t* in, uint64_t csize, uint64_t usize, const std::string& source,
                                   const std::string& place) {
  auto fail = [&](const std::string& why) { throw Error(source, place, why); };
  constexpr uint64_t kFirstBlock = uint64_t{1} << 20;
  std::vector<uint8_t> out(static_cast<size_t>(std::min(usize, std::max(kFirstBlock, csize * 4))));
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("cannot start zlib inflate");
  struct End {
    z_stream* s;
    ~End() { inflateEnd(s); }
  } end{&zs};
  uint64_t in_given = 0, out_given = 0;
  uint8_t spare = 0;
  bool probing = false;  // `out` is full; any further output proves the declared size wrong
  for (;;) {
    if (zs.avail_in == 0 && in_given < csize) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(csize - in_given, kZlibChunk));
      zs.next_in = const_cast<Bytef*>(in + in_given);
      zs.avail_in = static_cast<uInt>(k);
      in_given += k;
    }
    if (zs.avail_out == 0) {
      if (out_given < usize && out_given == out.size()) {
        // Full so far: double, up to the declared size. resize keeps the bytes; zlib's window
        // is its own, so moving `out` is safe.
        out.resize(static_cast<size_t>(std::min<uint64_t>(usize, 2 * static_cast<uint64_t>(out.size()))));
      }
      if (out_given < usize) {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(out.size() - out_given, kZlibChunk));
        zs.next_out = out.data() + out_given;
        zs.avail_out = static_cast<uInt>(k);
        out_given += k;
      } else {
        probing = true;
        zs.next_out = &spare;
        zs.avail_out = 1;
      }
    }
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (probing && zs.avail_out == 0)
      fail("deflated data expands beyond the declared " + std::to_string(usize) + " bytes");
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_given == csize) fail("deflated data is truncated");
    if (rc != Z_OK) fail(std::string("corrupt deflated data") + (zs.msg ? std::string(": ") + zs.msg : std::string()));
  }
  const uint64_t produced = probing ? out_given : out_given - zs.avail_out;
  if (produced != usize)
    fail("deflated data expands to " + std::to_string(produced) + " bytes, the archive declares " +
         std::to_string(usize));
  const uint64_t unused = zs.avail_in + (csize - in_given);
  if (unused != 0) fail(std::to_string(unused) + " bytes follow the end of the deflated data");
  return out;
}

struct EndRecord {
  uint64_t count = 0;
  uint64_t cd_at = 0;
  uint64_t cd_size = 0;
  uint64_t cd_limit = 0;  // where the central directory must end by: the first end record
};

EndRecord find_end(const uint8_t* data, size_t size, const std::string& source) {
  auto fail = [&](const std::string& place, const std::string& why) { throw Error(source, place, why); };
  const bool npy = size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0;
  const char* not_zip = npy ? "not an .npz archive (this is an .npy file)"
                            : "not a zip/.npz archive (no end-of-central-directory record; truncated?)";
  if (size < kEndSize) fail(byte_place(size), not_zip);
  // The end record is followed only by its comment (at most 64 KiB): search back from the end.
  const size_t lowest = size - kEndSize > kMax16 ? size - kEndSize - kMax16 : 0;
  size_t at = size;
  for (size_t p = size - kEndSize + 1; p-- > lowest;)
    if (le32(data + p) == kEndSig && p + kEndSize + le16(data + p + 20) == size) {
      at = p;
      break;
    }
  if (at == size) fail(byte_place(size), not_zip);
  const uint8_t* e = data + at;
  uint64_t disk = le16(e + 4), cd_disk = le16(e + 6), count_disk = le16(e + 8);
  EndRecord r{le16(e + 10), le32(e + 16), le32(e + 12), at};
  if (at >= kLocator64Size && le32(data + at - kLocator64Size) == kLocator64Sig) {
    // ZIP64: the locator just before the end record points at the 64-bit end record.
    const size_t loc = at - kLocator64Size;
    const uint64_t rec = le64(data + loc + 8);
    if (le32(data + loc + 4) != 0 || le32(data + loc + 16) > 1) fail(byte_place(loc), "multi-disk archives are not supported");
    if (rec > loc || loc - rec < kEnd64Size || le32(data + rec) != kEnd64Sig)
      fail(byte_place(loc), "the ZIP64 locator points at " + std::to_string(rec) + ", where there is no ZIP64 end record");
    const uint8_t* z = data + rec;
    disk = le32(z + 16);
    cd_disk = le32(z + 20);
    count_disk = le64(z + 24);
    r = {le64(z + 32), le64(z + 48), le64(z + 40), rec};
  } else if (r.count == kMax16 || r.cd_at == kMax32 || r.cd_size == kMax32) {
    fail(byte_place(at), "the end record needs a ZIP64 end record, which is missing");
  }
  if (disk != 0 || cd_disk != 0 || count_disk != r.count) fail(byte_place(at), "multi-disk archives are not supported");
  if (r.cd_at > r.cd_limit || r.cd_size > r.cd_limit - r.cd_at)
    fail(byte_place(at), "the central directory (" + std::to_string(r.cd_size) + " bytes at byte " +
                             std::to_string(r.cd_at) + ") lies outside the file");
  if (r.count > r.cd_size / kCentralSize)
    fail(byte_place(at), "the end record claims " + std::to_string(r.count) + " members, the central directory has room for " +
                             std::to_string(r.cd_size / kCentralSize));
  return r;
}

std::vector<Entry> read_central(const uint8_t* data, const EndRecord& end, const std::string& source) {
  std::vector<Entry> entries;
  entries.reserve(static_cast<size_t>(end.count));  // bounded by the directory's size above
  const size_t cd_end = static_cast<size_t>(end.cd_at + end.cd_size);
  size_t p = static_cast<size_t>(end.cd_at);
  for (uint64_t i = 0; i < end.count; ++i) {
    const std::string place = "central directory entry " + std::to_string(i) + ", " + byte_place(p);
    auto fail = [&](const std::string& why) { throw Error(source, place, why); };
    if (cd_end - p < kCentralSize) fail("truncated central directory");
    const uint8_t* c = data + p;
    if (le32(c) != kCentralSig) fail("bad central directory signature");
    Entry e;
    e.flags = le16(c + 8);
    e.method = le16(c + 10);
    e.crc = le32(c + 16);
    e.csize = le32(c + 20);
    e.usize = le32(c + 24);
    const size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
    const uint16_t disk = le16(c + 34);
    e.local_at = le32(c + 42);
    if (cd_end - p - kCentralSize < name_len + extra_len + comment_len) fail("entry runs past the central directory");
    if (disk != 0 && disk != kMax16) fail("multi-disk archives are not supported");
    e.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    apply_zip64_extra(c + kCentralSize + name_len, extra_len, e, source, place + " (" + member_place(e.name) + ")");
    entries.push_back(std::move(e));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
  if (p != cd_end)
    throw Error(source, byte_place(p), "the central directory's entries end " + std::to_string(cd_end - p) +
                                           " bytes before its declared size");
  return entries;
}

// Checks each member's local header and data span against the file (all before the central
// directory, none overlapping another) and records where its data starts.
void locate_data(const uint8_t* data, const EndRecord& end, std::vector<Entry>& entries, const std::string& source) {
  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (Entry& e : entries) {
    const std::string where = member_place(e.name);
    auto fail = [&](uint64_t at, const std::string& why) { throw Error(source, where + ", " + byte_place(at), why); };
    if (e.local_at > end.cd_at || end.cd_at - e.local_at < kLocalSize)
      fail(e.local_at, "the local header offset lies outside the archive's data");
    const uint8_t* l = data + e.local_at;
    if (le32(l) != kLocalSig) fail(e.local_at, "bad local header signature");
    const size_t name_len = le16(l + 26), extra_len = le16(l + 28);
    const uint64_t header_end = e.local_at + kLocalSize + name_len + extra_len;
    if (header_end > end.cd_at) fail(e.local_at, "the local header runs into the central directory");
    if (std::string_view(reinterpret_cast<const char*>(l + kLocalSize), name_len) != e.name)
      fail(e.local_at, "the local header names a different file");
    if (e.csize > end.cd_at - header_end)
      fail(header_end, "the member's " + std::to_string(e.csize) + " bytes of data run past the archive's data");
    e.data_at = header_end;
    spans.push_back({e.local_at, header_end + e.csize, &e.name});
  }
  // Overlapping members are how small archives pretend to hold huge ones.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      throw Error(source, member_place(*spans[i].name) + ", " + byte_place(spans[i].begin),
                  "overlaps member '" + *spans[i - 1].name + "'");
}

std::string method_name(uint16_t m) {
  switch (m) {
    case 12: return "bzip2";
    case 14: return "LZMA";
    case 93: return "Zstandard";
    case 95: return "XZ";
    default: return "method " + std::to_string(m);
  }
}

std::string strip_npy(const std::string& name) {
  constexpr std::string_view ext = ".npy";
  if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
    return name.substr(0, name.size() - ext.size());
  return name;
}

// ---- writing -----------------------------------------------------------------------------------

struct PlannedMember {
  std::string file_name;  // "<name>.npy"
  std::string header;     // the .npy header; the tensor's bytes follow it
  const Tensor* tensor;
  uint64_t size;
  uint32_t crc;
  uint64_t local_at;
  bool zip64_local;
};

struct Plan {
  std::vector<PlannedMember> members;
  uint64_t cd_at = 0;
  uint64_t total = 0;
  bool force_zip64 = false;
};

class Bytes {
 public:
  Bytes& u16(uint64_t v) { return put(v, 2); }
  Bytes& u32(uint64_t v) { return put(v, 4); }
  Bytes& u64(uint64_t v) { return put(v, 8); }
  Bytes& str(const std::string& s) {
    b_ += s;
    return *this;
  }
  const std::string& get() const { return b_; }

 private:
  Bytes& put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_ += static_cast<char>((v >> (8 * i)) & 0xff);
    return *this;
  }
  std::string b_;
};

// DOS date 1980-01-01, time 00:00: archives come out the same on every run.
constexpr uint16_t kDosDate = (1 << 5) | 1;
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kMadeByUnix = 3 << 8;
constexpr uint32_t kRegularFile644 = 0100644u << 16;

uint16_t flags_for(const std::string& name) {
  const bool ascii = std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return ascii ? 0 : kFlagUtf8;
}

Plan plan_npz(const std::vector<std::pair<std::string, Tensor>>& arrays, const std::string& source, bool force_zip64) {
  Plan plan;
  plan.force_zip64 = force_zip64;
  std::set<std::string> seen;
  uint64_t at = 0;
  for (const auto& [name, tensor] : arrays) {
    const std::string where = member_place(name);
    if (name.empty()) throw Error(source, where, "member names must not be empty");
    if (!seen.insert(name).second) throw Error(source, where, "duplicate member name");
    PlannedMember m;
    m.file_name = name + ".npy";
    if (m.file_name.size() > kMax16) throw Error(source, where, "member name is too long for a zip archive");
    m.header = detail::npy_header(tensor, source, where);
    m.tensor = &tensor;
    m.size = m.header.size() + tensor.data.size();
    m.crc = crc_of(crc_of(0, reinterpret_cast<const uint8_t*>(m.header.data()), m.header.size()), tensor.data.data(),
                   tensor.data.size());
    m.local_at = at;
    m.zip64_local = force_zip64 || m.size >= kMax32;
    at += kLocalSize + m.file_name.size() + (m.zip64_local ? 20 : 0) + m.size;
    plan.members.push_back(std::move(m));
  }
  plan.cd_at = at;
  for (const PlannedMember& m : plan.members) {
    const bool big = force_zip64 || m.size >= kMax32, far = force_zip64 || m.local_at >= kMax32;
    at += kCentralSize + m.file_name.size() + ((big || far) ? 4 : 0) + (big ? 16 : 0) + (far ? 8 : 0);
  }
  const uint64_t cd_size = at - plan.cd_at;
  if (force_zip64 || plan.members.size() >= kMax16 || plan.cd_at >= kMax32 || cd_size >= kMax32)
    at += kEnd64Size + kLocator64Size;
  plan.total = at + kEndSize;
  return plan;
}

void emit_npz(const Plan& plan, const ByteSink& sink) {
  auto put = [&](const Bytes& b) { sink(b.get().data(), b.get().size()); };
  const bool force = plan.force_zip64;
  for (const PlannedMember& m : plan.members) {
    const uint32_t small = static_cast<uint32_t>(m.zip64_local ? kMax32 : m.size);
    Bytes h;
    h.u32(kLocalSig).u16(m.zip64_local ? 45 : 20).u16(flags_for(m.file_name)).u16(kMethodStored);
    h.u16(kDosTime).u16(kDosDate).u32(m.crc).u32(small).u32(small);
    h.u16(m.file_name.size()).u16(m.zip64_local ? 20 : 0).str(m.file_name);
    if (m.zip64_local) h.u16(kZip64Tag).u16(16).u64(m.size).u64(m.size);
    put(h);
    sink(m.header.data(), m.header.size());
    if (!m.tensor->data.empty()) sink(m.tensor->data.data(), m.tensor->data.size());
  }
  uint64_t cd_size = 0;
  for (const PlannedMember& m : plan.members) {
    const bool big = force || m.size >= kMax32, far = force || m.local_at >= kMax32;
    const uint16_t extra_len = static_cast<uint16_t>(((big || far) ? 4 : 0) + (big ? 16 : 0) + (far ? 8 : 0));
    const uint16_t version = (big || far) ? 45 : 20;
    Bytes c;
    c.u32(kCentralSig).u16(kMadeByUnix | version).u16(version).u16(flags_for(m.file_name)).u16(kMethodStored);
    c.u16(kDosTime).u16(kDosDate).u32(m.crc).u32(big ? kMax32 : m.size).u32(big ? kMax32 : m.size);
    c.u16(m.file_name.size()).u16(extra_len).u16(0).u16(0).u16(0).u32(kRegularFile644);
    c.u32(far ? kMax32 : m.local_at).str(m.file_name);
    if (big || far) c.u16(kZip64Tag).u16(extra_len - 4u);
    if (big) c.u64(m.size).u64(m.size);
    if (far) c.u64(m.local_at);
    put(c);
    cd_size += c.get().size();
  }
  const uint64_t count = plan.members.size();
  const bool zip64 = force || count >= kMax16 || plan.cd_at >= kMax32 || cd_size >= kMax32;
  Bytes e;
  if (zip64) {
    const uint64_t rec = plan.cd_at + cd_size;
    e.u32(kEnd64Sig).u64(kEnd64Size - 12).u16(kMadeByUnix | 45).u16(45).u32(0).u32(0);
    e.u64(count).u64(count).u64(cd_size).u64(plan.cd_at);
    e.u32(kLocator64Sig).u32(0).u64(rec).u32(1);
  }
  const uint64_t count16 = force ? kMax16 : std::min(count, kMax16);
  e.u32(kEndSig).u16(0).u16(0).u16(count16).u16(count16);
  e.u32(force ? kMax32 : std::min(cd_size, kMax32)).u32(force ? kMax32 : std::min(plan.cd_at, kMax32)).u16(0);
  put(e);
}

}  // namespace

namespace detail {

void write_npz_to(const std::vector<std::pair<std::string, Tensor>>& arrays, const ByteSink& sink, bool force_zip64) {
  emit_npz(plan_npz(arrays, "", force_zip64), sink);
}

}  // namespace detail

std::vector<std::pair<std::string, Tensor>> parse_npz(const uint8_t* data, size_t size, const std::string& source) {
  const EndRecord end = find_end(data, size, source);
  std::vector<Entry> entries = read_central(data, end, source);
  std::erase_if(entries, [](const Entry& e) { return !e.name.empty() && e.name.back() == '/' && e.usize == 0; });
  locate_data(data, end, entries, source);

  // Everything that needs no decompression is checked before anything is inflated.
  std::set<std::string> names;
  for (const Entry& e : entries) {
    auto fail = [&](const std::string& why) { throw Error(source, member_place(e.name), why); };
    if (e.flags & kFlagEncrypted) fail("encrypted members are not supported");
    if (e.method != kMethodStored && e.method != kMethodDeflate)
      fail("unsupported compression (" + method_name(e.method) + "); only stored and deflate members can be read");
    if (e.method == kMethodStored && e.csize != e.usize)
      fail("a stored member declares " + std::to_string(e.usize) + " bytes but holds " + std::to_string(e.csize));
    if (e.method == kMethodDeflate && e.usize > e.csize * kMaxDeflateRatio + kDeflateSlack)
      fail("declares " + std::to_string(e.usize) + " bytes uncompressed from " + std::to_string(e.csize) +
           " deflated bytes, more than deflate can encode");
    if (!names.insert(strip_npy(e.name)).second) fail("duplicate member name '" + strip_npy(e.name) + "'");
  }

  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) {
    const std::string where = member_place(e.name);
    const uint8_t* payload = data + e.data_at;
    std::vector<uint8_t> inflated;
    if (e.method == kMethodDeflate) {
      inflated = inflate_exact(payload, e.csize, e.usize, source, where);
      payload = inflated.data();
    }
    const size_t n = static_cast<size_t>(e.usize);
    const uint32_t crc = crc_of(0, payload, n);
    if (crc != e.crc)
      throw Error(source, where, "CRC-32 mismatch: the archive says " + hex32(e.crc) + ", the data gives " + hex32(crc));
    out.emplace_back(strip_npy(e.name), detail::parse_npy_in(payload, n, source, where));
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  const MappedFile file(path);
  return parse_npz(file.data(), file.size(), path);
}

std::vector<uint8_t> write_npz(const std::vector<std::pair<std::string, Tensor>>& arrays) {
  const Plan plan = plan_npz(arrays, "", false);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(plan.total));
  emit_npz(plan, [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void save_npz(const std::vector<std::pair<std::string, Tensor>>& arrays, const std::string& path) {
  const Plan plan = plan_npz(arrays, path, false);
  write_files_atomic({{path, [&](const ByteSink& sink) { emit_npz(plan, sink); }}});
}

}  // namespace mixprec::numpy
