#pragma once
/// \file What every module of structgan::nn shares: how its parameters and buffers are
/// enumerated (one `visit` per module), and the helpers built on that (counting, zeroing
/// gradients, deep copies, lists of named parameters).
///
/// A module is a plain value type (a struct, not a shared pointer) templated over the scalar T
/// and the device D, deriving from Module<itself>. It provides
///   - `template <class V> V operator()(const V& x)`: the forward pass, written once for every
///     value type V (Tensor, Var, DualTensor<Tensor>, DualTensor<Var>; autodiff/value.hpp);
///   - `template <class F> void members(F&& f)`: its one list of what it holds, in order, as
///     `f(name, x)` for each trainable Parameter<T, D>, persistent non-trainable Tensor<T, D> (a
///     buffer: BatchNorm's running statistics, spectral norm's vectors) and child module.
/// From that list Module derives
///   - `visit(v, prefix)`, calling `v.parameter(name, Parameter&)` and `v.buffer(name, Tensor&)`
///     with dotted names (`"layer2.0.conv1.weight"`), depth first in list order;
///   - `bool training` and `train(on)`, which sets the flag on the module and every child module
///     (BatchNorm and spectral normalization behave differently in evaluation).
///
/// Copying a module is shallow, like copying a Tensor: the copy shares the storage of every
/// parameter and buffer. `clone_module` makes an independent copy.
#include <string>
#include <utility>
#include <vector>

#include "structgan/autodiff/value.hpp"
#include "structgan/backend/tensor_util.hpp"

namespace structgan::nn {

/// `prefix.name`, or `name` when the prefix is empty.
inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

namespace detail {
// How Module treats each entry of a members() list: parameters and buffers are reported to the
// visitor; child modules visit (and switch mode) themselves.
template <class Vis, class T, class D>
void visit_member(Vis& v, const std::string& name, Parameter<T, D>& p) { v.parameter(name, p); }
template <class Vis, class T, class D>
void visit_member(Vis& v, const std::string& name, Tensor<T, D>& b) { v.buffer(name, b); }
template <class Vis, class M>
void visit_member(Vis& v, const std::string& name, M& child) { child.visit(v, name); }
template <class T, class D>
void train_member(Parameter<T, D>&, bool) {}
template <class T, class D>
void train_member(Tensor<T, D>&, bool) {}
template <class M>
void train_member(M& child, bool on) { child.train(on); }
}  // namespace detail

/// The base of every module (CRTP): visit and train derived from Derived::members (see the file
/// comment). An entry with an empty name puts a child's names directly under the module's prefix.
template <class Derived>
struct Module {
  bool training = true;

  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    self().members([&](const std::string& name, auto& m) {
      detail::visit_member(v, name.empty() ? prefix : join_name(prefix, name), m);
    });
  }
  void train(bool on = true) {
    training = on;
    self().members([&](const std::string&, auto& m) { detail::train_member(m, on); });
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

/// A visitor made of two callables: on_parameter(name, Parameter&) and on_buffer(name, Tensor&).
template <class OnParameter, class OnBuffer>
struct LambdaVisitor {
  OnParameter on_parameter;
  OnBuffer on_buffer;
  template <class T, class D>
  void parameter(const std::string& name, Parameter<T, D>& p) { on_parameter(name, p); }
  template <class T, class D>
  void buffer(const std::string& name, Tensor<T, D>& b) { on_buffer(name, b); }
};
template <class P, class B>
LambdaVisitor<P, B> make_visitor(P p, B b) { return {std::move(p), std::move(b)}; }

/// Calls f(name, Parameter&) for every parameter of module m.
template <class M, class F>
void for_each_parameter(M& m, F&& f, const std::string& prefix = "") {
  m.visit(make_visitor([&](const std::string& n, auto& p) { f(n, p); }, [](const std::string&, auto&) {}), prefix);
}
/// Calls f(name, Tensor&) for every buffer of module m.
template <class M, class F>
void for_each_buffer(M& m, F&& f, const std::string& prefix = "") {
  m.visit(make_visitor([](const std::string&, auto&) {}, [&](const std::string& n, auto& b) { f(n, b); }), prefix);
}

/// The number of trainable scalars of module m (the parameter count of SPEC §1).
template <class M>
index_t parameter_count(M& m) {
  index_t n = 0;
  for_each_parameter(m, [&](const std::string&, auto& p) { n += p.value.numel(); });
  return n;
}

/// Sets every parameter gradient of m to zero (in place; gradients not yet created stay absent).
template <class M>
void zero_grad(M& m) {
  for_each_parameter(m, [](const std::string&, auto& p) { p.zero_grad(); });
}

/// A parameter of a module with its dotted name; the pointer refers into the module.
template <class T, class D = Cpu>
struct NamedParameter {
  std::string name;
  Parameter<T, D>* param = nullptr;
};
/// A buffer of a module with its dotted name; the pointer refers into the module.
template <class T, class D = Cpu>
struct NamedBuffer {
  std::string name;
  Tensor<T, D>* buffer = nullptr;
};

/// Every parameter of m, in visiting order (the order optimizers and checkpoints use).
template <class M>
std::vector<NamedParameter<typename M::value_type, typename M::device_type>> named_parameters(M& m,
                                                                                             const std::string& prefix = "") {
  std::vector<NamedParameter<typename M::value_type, typename M::device_type>> out;
  for_each_parameter(m, [&](const std::string& n, auto& p) { out.push_back({n, &p}); }, prefix);
  return out;
}
/// Every buffer of m, in visiting order.
template <class M>
std::vector<NamedBuffer<typename M::value_type, typename M::device_type>> named_buffers(M& m, const std::string& prefix = "") {
  std::vector<NamedBuffer<typename M::value_type, typename M::device_type>> out;
  for_each_buffer(m, [&](const std::string& n, auto& b) { out.push_back({n, &b}); }, prefix);
  return out;
}

/// An independent copy of m: same structure and values, new storage, no gradients.
template <class M>
M clone_module(const M& m) {
  M copy = m;  // shallow: shares storage
  copy.visit(make_visitor(
                 [](const std::string&, auto& p) {
                   p.value = clone(p.value);
                   p.grad = {};
                 },
                 [](const std::string&, auto& b) { b = clone(b); }),
             "");
  return copy;
}

/// Copies the values of every parameter and buffer of `from` into `to`'s existing storage (same
/// architecture: names and shapes must agree, else structgan::Error and `to` is unchanged).
template <class M>
void copy_module_values(M& to, M& from) {
  auto pt = named_parameters(to), pf = named_parameters(from);
  auto bt = named_buffers(to), bf = named_buffers(from);
  require(pt.size() == pf.size() && bt.size() == bf.size(), "copy_module_values: the modules differ in structure");
  for (std::size_t i = 0; i < pt.size(); ++i)
    require(pt[i].name == pf[i].name && pt[i].param->value.shape() == pf[i].param->value.shape(),
            "copy_module_values: parameter ", pt[i].name, " ", pt[i].param->value.shape(), " vs ", pf[i].name, " ",
            pf[i].param->value.shape());
  for (std::size_t i = 0; i < bt.size(); ++i)
    require(bt[i].name == bf[i].name && bt[i].buffer->shape() == bf[i].buffer->shape(), "copy_module_values: buffer ",
            bt[i].name, " ", bt[i].buffer->shape(), " vs ", bf[i].name, " ", bf[i].buffer->shape());
  for (std::size_t i = 0; i < pt.size(); ++i) assign(pt[i].param->value, pf[i].param->value);
  for (std::size_t i = 0; i < bt.size(); ++i) assign(*bt[i].buffer, *bf[i].buffer);
}

}  // namespace structgan::nn
