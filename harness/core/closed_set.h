// Closed sets (activations, initializers, losses, datasets, and every enumerated config value):
// each is an `enum class` ending in a `count` sentinel and ONE constexpr table, a row per value in
// enum order, checked at compile time (as ggml does for its ops). Parsing, printing, `gradlab
// list`, the theory and the tests read the table; nothing else lists the names.
//
// A member with parameters lists them as Param rows: name, default, valid range, and how to reach
// the field of its spec (member<&Spec::field>). Reading and writing them as JSON is generic
// (harness/core/json_read.h).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace gl {

template <class E>
inline constexpr size_t count_of = static_cast<size_t>(E::count);

// True when the table has one row per enum value, row i holding value i.
template <class Row, size_t N>
constexpr bool rows_in_enum_order(const Row (&rows)[N]) {
  using E = decltype(Row::kind);
  if (N != count_of<E>) return false;
  for (size_t i = 0; i < N; ++i)
    if (static_cast<size_t>(rows[i].kind) != i) return false;
  return true;
}

// The kind a table's row names, by its name or one of its aliases (rows that have them).
template <class Row, size_t N>
constexpr std::optional<decltype(Row::kind)> kind_from_name(const Row (&rows)[N],
                                                            std::string_view name) {
  for (const Row& row : rows) {
    if (row.name == name) return row.kind;
    if constexpr (requires { row.aliases; })
      for (auto alias : row.aliases)
        if (alias == name) return row.kind;
  }
  return std::nullopt;
}

// The name of e in a plain name table (static_assert'ed to have count_of<E> entries).
template <class E, size_t N>
constexpr std::string_view enum_name(const std::string_view (&names)[N], E e) {
  return names[static_cast<size_t>(e)];
}

// A range of reals (integers: lo..hi inclusive); infinite ends are unbounded.
struct NumRange {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
};
inline constexpr NumRange any_number{};
inline constexpr NumRange positive{0.0, std::numeric_limits<double>::infinity(), true, false};
inline constexpr NumRange non_negative{0.0, std::numeric_limits<double>::infinity(), false, false};

// How a parameter reaches its field of Spec, as a double (integers and enums converted).
template <class Spec>
struct Access {
  double (*get)(const Spec&) = nullptr;
  void (*set)(Spec&, double) = nullptr;
};

template <class M>
struct member_traits;
template <class S, class V>
struct member_traits<V S::*> {
  using spec = S;
  using value = V;
};

template <auto M>
double member_get(const typename member_traits<decltype(M)>::spec& s) {
  using V = typename member_traits<decltype(M)>::value;
  if constexpr (std::is_enum_v<V>)
    return static_cast<double>(static_cast<int>(s.*M));
  else
    return static_cast<double>(s.*M);
}
template <auto M>
void member_set(typename member_traits<decltype(M)>::spec& s, double v) {
  using V = typename member_traits<decltype(M)>::value;
  if constexpr (std::is_enum_v<V>)
    s.*M = static_cast<V>(static_cast<int>(v));
  else
    s.*M = static_cast<V>(v);
}
template <auto M>
inline constexpr Access<typename member_traits<decltype(M)>::spec> member = {member_get<M>,
                                                                             member_set<M>};

enum class ParamType { number, integer, choice };

// One parameter of a closed set's member. Absent from the JSON object → def; a NaN value means
// "not set" and is not written back (a NaN def with a set default is written as def).
template <class Spec>
struct Param {
  std::string_view name;
  Access<Spec> at;
  double def = 0;
  ParamType type = ParamType::number;
  NumRange range = any_number;                  // number, integer
  std::span<const std::string_view> choices{};  // choice: the value is the index
  bool required = false;
  NumRange (*range_of)(const Spec&) = nullptr;  // a range that depends on a choice (read first)
  std::string_view excludes{};                  // a parameter this one may not be given with
  std::string_view at_least{};                  // a parameter this one may not be below
};

}  // namespace gl
