#pragma once
/// \file Typed keys: one field list per options struct gives its JSON read and write, its
/// validation, its command-line flags and its documented table, so these cannot disagree.
///
/// A struct takes part through a function `visit_fields(s, f)`, found by argument-dependent
/// lookup, that calls `f(Key, member)` for each member in order (for `s` const or not). A member
/// that has its own visit_fields is a nested JSON object whose keys read `outer.inner`.
/// objectives::ObjectiveOptions and train::TrainConfig use it; it lives with the objectives
/// because they are the lowest layer that has nlohmann_json.
///
/// \code
///   template <class O, class F, class = std::enable_if_t<std::is_same_v<std::remove_const_t<O>, Options>>>
///   void visit_fields(O& o, F&& f) {
///     f(fields::Key("steps", "iterations of the solver").min(1), o.steps);
///     f(fields::Key("mode", "how to solve").one_of({"fast", "exact"}), o.mode);  // a string or an enum
///   }
///   fields::read(o, nlohmann::json::parse(text), "options");   // throws naming the key and its range
///   std::string doc = fields::table(Options{});                 // Markdown, for docs and --list-keys
/// \endcode
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/core/error.hpp"

namespace structgan::fields {

/// One key: its JSON name, its meaning, the values it allows and an optional command-line flag.
/// Numbers are always finite; `lo`/`hi` bound them further (closed unless marked open).
struct Key {
  const char* name;
  const char* doc;
  double lo = -HUGE_VAL, hi = HUGE_VAL;
  bool lo_open = false, hi_open = false;
  std::vector<std::string> choices;  ///< strings: the allowed values (empty: any); enums: the names in enumerator order
  const char* flag = nullptr;        ///< e.g. "--batch-size": a shorthand for --set name=VALUE

  Key(const char* n, const char* d) : name(n), doc(d) {}
  Key& min(double x) { return lo = x, lo_open = false, *this; }    ///< ≥ x
  Key& above(double x) { return lo = x, lo_open = true, *this; }   ///< > x
  Key& max(double x) { return hi = x, hi_open = false, *this; }    ///< ≤ x
  Key& below(double x) { return hi = x, hi_open = true, *this; }   ///< < x
  Key& one_of(std::vector<std::string> c) { return choices = std::move(c), *this; }
  Key& cli(const char* f) { return flag = f, *this; }
};

namespace detail {

struct Ignore {
  template <class... A>
  void operator()(A&&...) const {}
};
template <class T, class = void>
struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(visit_fields(std::declval<T&>(), Ignore{}))>> : std::true_type {};

template <class T>
constexpr bool is_integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <class T>
constexpr bool is_text = std::is_same_v<T, std::string> || std::is_enum_v<T>;

inline std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

/// Enough digits for every double a key holds by default (2e-4, 1e-300) and integers up to 2^53.
inline std::string number_text(long double x) {
  std::ostringstream os;
  os << std::setprecision(15) << static_cast<double>(x);
  return os.str();
}

/// Whether every string in j is valid UTF-8 (JSON text, hence a saved configuration, can hold
/// nothing else; nlohmann::json::dump throws on anything else).
inline bool is_utf8(const nlohmann::json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

inline std::string not_a_choice(const Key& k, const std::string& got) {
  return "must be one of " + joined(k.choices) + ", got '" + got + "'";
}

}  // namespace detail

template <class T>
constexpr bool has_fields_v = detail::has_fields<T>::value;

/// The type of a member as the tables print it.
template <class F>
const char* type_name() {
  if constexpr (std::is_same_v<F, bool>) return "bool";
  else if constexpr (detail::is_integer<F>) return "integer";
  else if constexpr (std::is_floating_point_v<F>) return "number";
  else if constexpr (detail::is_text<F>) return "string";
  else return "object";
}

/// The values k allows, as text: "≥ 0", "> 0", "in [0, 1)", "fine | coarse", or "" (any).
inline std::string allowed(const Key& k) {
  if (!k.choices.empty()) return detail::joined(k.choices, " | ");
  const bool has_lo = std::isfinite(k.lo), has_hi = std::isfinite(k.hi);
  const std::string lo = detail::number_text(k.lo), hi = detail::number_text(k.hi);
  if (has_lo && has_hi) return std::string("in ") + (k.lo_open ? "(" : "[") + lo + ", " + hi + (k.hi_open ? ")" : "]");
  if (has_lo) return (k.lo_open ? "> " : "≥ ") + lo;
  if (has_hi) return (k.hi_open ? "< " : "≤ ") + hi;
  return "";
}

namespace detail {
/// Why number x (written `text`) is not allowed for k ("" when it is). For an integer member
/// the range of its type is checked too, before any conversion could wrap the value.
template <class F>
std::string range_violation(const Key& k, long double x, const std::string& text) {
  const bool below = k.lo_open ? !(x > k.lo) : !(x >= k.lo), above = k.hi_open ? !(x < k.hi) : !(x <= k.hi);
  if constexpr (is_integer<F>) {
    if (x > static_cast<long double>(std::numeric_limits<F>::max()) ||
        x < static_cast<long double>(std::numeric_limits<F>::min()))
      return "= " + text + " must be " + (below ? allowed(k) : "≤ " + std::to_string(std::numeric_limits<F>::max()));
  } else if (!std::isfinite(x)) {
    return "= " + text + " must be a finite number" + (allowed(k).empty() ? "" : " " + allowed(k));
  }
  return below || above ? "= " + text + " must be " + allowed(k) : "";
}
}  // namespace detail

/// Why `v` is not an allowed value of k ("" when it is).
template <class F>
std::string violation(const Key& k, const F& v) {
  if constexpr (std::is_same_v<F, std::string>) {
    if (!detail::is_utf8(v)) return "is not valid UTF-8 (the configuration is stored as JSON)";
    if (!k.choices.empty() && std::find(k.choices.begin(), k.choices.end(), v) == k.choices.end())
      return detail::not_a_choice(k, v);
  } else if constexpr (detail::is_integer<F>) {
    return detail::range_violation<F>(k, static_cast<long double>(v), std::to_string(v));
  } else if constexpr (std::is_floating_point_v<F>) {
    return detail::range_violation<F>(k, static_cast<long double>(v), detail::number_text(v));
  }
  return "";
}

/// A member as JSON (an enum as its name, a nested struct as an object of every key).
template <class F>
nlohmann::json value_json(const Key& k, const F& v);

/// Every key of s and its value, as one JSON object.
template <class S>
nlohmann::json write(const S& s) {
  nlohmann::json j = nlohmann::json::object();
  visit_fields(s, [&](const Key& k, const auto& field) { j[k.name] = value_json(k, field); });
  return j;
}

template <class F>
nlohmann::json value_json(const Key& k, const F& v) {
  if constexpr (has_fields_v<F>) return write(v);
  else if constexpr (std::is_enum_v<F>) return k.choices.at(static_cast<std::size_t>(v));
  else return v;
}

/// The names of s's keys (the top level), in order.
template <class S>
std::vector<std::string> names(const S& s) {
  std::vector<std::string> n;
  visit_fields(s, [&](const Key& k, const auto&) { n.emplace_back(k.name); });
  return n;
}

/// Checks every member of s (nested structs too); throws structgan::Error naming the first bad
/// key (`where: 'prefix.key' = value must be …`).
template <class S>
void validate(const S& s, const std::string& where, const std::string& prefix = "") {
  visit_fields(s, [&](const Key& k, const auto& field) {
    using F = std::decay_t<decltype(field)>;
    if constexpr (has_fields_v<F>) {
      validate(field, where, prefix + k.name + ".");
    } else {
      const std::string why = violation(k, field);
      require(why.empty(), where, ": '", prefix, k.name, "' ", why);
    }
  });
}

namespace detail {

template <class S>
void read_object(S& s, const nlohmann::json& j, const std::string& where, const std::string& prefix);

/// Reads one member from v, checked against k; `name` is the key as the messages print it.
template <class F>
void read_value(const Key& k, F& field, const nlohmann::json& v, const std::string& where, const std::string& name) {
  auto type_error = [&](const char* expected) { fail(where, ": '", name, "' must be ", expected, ", got ", v.dump()); };
  if constexpr (has_fields_v<F>) {
    if (!v.is_object()) type_error("a JSON object");
    read_object(field, v, where, name + ".");
    return;
  } else {
    F x{};
    if constexpr (std::is_same_v<F, bool>) {
      if (!v.is_boolean()) type_error("true or false");
      x = v.get<bool>();
    } else if constexpr (is_integer<F>) {
      if (!v.is_number_integer()) type_error("an integer");
      const long double raw = v.is_number_unsigned() ? static_cast<long double>(v.get<std::uint64_t>())
                                                     : static_cast<long double>(v.get<std::int64_t>());
      const std::string why = range_violation<F>(k, raw, v.dump());
      require(why.empty(), where, ": '", name, "' ", why);
      x = static_cast<F>(v.get<std::int64_t>());
    } else if constexpr (std::is_floating_point_v<F>) {
      if (!v.is_number()) type_error("a number");
      x = v.get<F>();
    } else if constexpr (std::is_same_v<F, std::string>) {
      if (!v.is_string()) type_error("a string");
      x = v.get<std::string>();
    } else {
      static_assert(std::is_enum_v<F>, "fields: a member must be bool, integer, number, string, enum or a struct with visit_fields");
      if (!v.is_string()) type_error("a string");
      const std::string text = v.get<std::string>();
      const auto it = std::find(k.choices.begin(), k.choices.end(), text);
      require(it != k.choices.end(), where, ": '", name, "' ", not_a_choice(k, text));
      x = static_cast<F>(it - k.choices.begin());
    }
    const std::string why = violation(k, x);
    require(why.empty(), where, ": '", name, "' ", why);
    field = x;
  }
}

template <class S>
void read_object(S& s, const nlohmann::json& j, const std::string& where, const std::string& prefix) {
  for (const auto& item : j.items()) {
    const std::string key = item.key();  // not a structured binding: C++17 lambdas cannot capture those
    bool found = false;
    visit_fields(s, [&](const Key& k, auto& field) {
      if (found || key != k.name) return;
      found = true;
      read_value(k, field, item.value(), where, prefix + key);
    });
    if (!found) fail(where, ": unknown key '", prefix, key, "' (known keys: ", joined(names(s)), ")");
  }
}

}  // namespace detail

/// Applies the keys present in `j` (an object) to s; a nested object merges key by key. Each key
/// must be known, of its type and allowed; else structgan::Error names it (`where: 'key' …`)
/// and s is unchanged.
template <class S>
void read(S& s, const nlohmann::json& j, const std::string& where) {
  require(j.is_object(), where, ": expected a JSON object, got ", j.type_name());
  // Checked first: the messages quote values, and quoting invalid UTF-8 would throw.
  require(detail::is_utf8(j), where, ": the keys and strings must be valid UTF-8");
  S t = s;
  detail::read_object(t, j, where, "");
  s = std::move(t);
}

/// Whether the (dotted) key names a string or enum member of s.
template <class S>
bool is_text_key(const S& s, const std::string& key) {
  const auto dot = key.find('.');
  const std::string head = key.substr(0, dot);
  bool text = false;
  visit_fields(s, [&](const Key& k, const auto& field) {
    using F = std::decay_t<decltype(field)>;
    if (head != k.name) return;
    if constexpr (has_fields_v<F>) {
      if (dot != std::string::npos) text = is_text_key(field, key.substr(dot + 1));
    } else {
      text = detail::is_text<F> && dot == std::string::npos;
    }
  });
  return text;
}

/// Sets one (dotted: `outer.inner`) key of s from command-line text: read as JSON when it
/// parses (numbers, true/false, "quoted strings", {objects}), else as a plain string; a string
/// key also takes other JSON as its text (`--output 123`). Throws structgan::Error as read().
template <class S>
void set(S& s, const std::string& key, const std::string& text, const std::string& where) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded() || (!value.is_string() && is_text_key(s, key))) value = text;
  std::string path = key;
  for (auto dot = path.rfind('.'); dot != std::string::npos; dot = path.rfind('.')) {
    value = nlohmann::json{{path.substr(dot + 1), value}};
    path.resize(dot);
  }
  read(s, nlohmann::json{{path, value}}, where);
}

namespace detail {
inline std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}
template <class S>
void table_rows(const S& s, const std::string& prefix, std::string& out) {
  visit_fields(s, [&](const Key& k, const auto& field) {
    using F = std::decay_t<decltype(field)>;
    const std::string value = has_fields_v<F> ? std::string() : value_json(k, field).dump();
    out += "| " + prefix + k.name + " | " + type_name<F>() + " | " + cell(value) + " | " + cell(allowed(k)) + " | " +
           cell(k.doc) + " |\n";
    if constexpr (has_fields_v<F>) table_rows(field, prefix + k.name + ".", out);
  });
}
}  // namespace detail

/// Every key of s (nested ones as `outer.inner`) as a Markdown table: key, type, the value in
/// `s` (pass the defaults), the allowed values and the meaning.
template <class S>
std::string table(const S& s) {
  std::string out = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  detail::table_rows(s, "", out);
  return out;
}

}  // namespace structgan::fields
