#pragma once
/// \file Reductions and data movement with their three rules: sum and mean over axes, reshape,
/// concat, slice (any axis, so also the channel slice), gather of rows, top-k indices.
#include <vector>

#include "structgan/backend/device_indices.hpp"
#include "structgan/ops/elementwise.hpp"

namespace structgan {

namespace detail {
/// The shape with the listed axes set to 1 (keepdim) and, separately, removed.
inline std::pair<Shape, Shape> reduced_shapes(const char* op, const Shape& s, std::initializer_list<int> axes) {
  std::array<bool, 4> red{};
  for (int a : axes) {
    const int j = a < 0 ? a + s.rank() : a;
    require(j >= 0 && j < s.rank(), op, ": axis ", a, " out of range for ", s);
    red[static_cast<std::size_t>(j)] = true;
  }
  std::vector<index_t> keep, drop;
  for (int i = 0; i < s.rank(); ++i) {
    keep.push_back(red[static_cast<std::size_t>(i)] ? 1 : s[i]);
    if (!red[static_cast<std::size_t>(i)]) drop.push_back(s[i]);
  }
  return {Shape::from_range(keep.begin(), keep.end()), Shape::from_range(drop.begin(), drop.end())};
}
}  // namespace detail

/// x seen with another shape of the same size (shares storage for Tensor).
template <class T, class D>
Var<T, D> reshape(const Var<T, D>& x, const Shape& s) {
  const Shape from = x.shape();
  return Var<T, D>::op(x.value().reshape(s), {&x}, [from](auto& n) { send_grad(n, 0, n.grad.reshape(from)); });
}
template <class T, class D>
Tensor<T, D> reshape(const Tensor<T, D>& x, const Shape& s) { return x.reshape(s); }
template <class V>
DualTensor<V> reshape(const DualTensor<V>& x, const Shape& s) {
  return {primal_value([&] { return reshape(x.primal, s); }), x.has_tangent() ? reshape(x.tangent, s) : V()};
}

/// Σ over the listed axes; keepdim leaves them as size 1. (sum_to is the primitive.)
template <class V>
V sum(const V& x, std::initializer_list<int> axes, bool keepdim = false) {
  const auto [keep, drop] = detail::reduced_shapes("sum", x.shape(), axes);
  V s = sum_to(x, keep);
  return keepdim ? s : reshape(s, drop);
}
/// A shape of x's rank with every dimension 1.
inline Shape ones_shape(const Shape& s) {
  Shape o = s;
  for (int i = 0; i < s.rank(); ++i) o[i] = 1;
  return o;
}
/// Σ of all elements, as a one-element tensor of shape [1].
template <class V>
V sum_all(const V& x) {
  return reshape(sum_to(x, ones_shape(x.shape())), Shape{1});
}
/// The mean over the listed axes.
template <class V>
V mean(const V& x, std::initializer_list<int> axes, bool keepdim = false) {
  const auto [keep, drop] = detail::reduced_shapes("mean", x.shape(), axes);
  using T = typename ValueTraits<V>::scalar;
  const index_t count = x.numel() / std::max<index_t>(1, keep.numel());
  return mul_scalar(sum(x, axes, keepdim), T(1) / T(count));
}
/// The mean of all elements, shape [1].
template <class V>
V mean_all(const V& x) {
  using T = typename ValueTraits<V>::scalar;
  return mul_scalar(sum_all(x), T(1) / T(x.numel()));
}
// ---- slice and concat --------------------------------------------------------------------------
namespace detail {
/// x seen as (outer, dim(axis), inner).
inline std::array<index_t, 3> around_axis(const Shape& s, int axis) {
  index_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
  return {outer, s[axis], inner};
}
inline int normalize_axis(const char* op, const Shape& s, int axis) {
  const int a = axis < 0 ? axis + s.rank() : axis;
  require(a >= 0 && a < s.rank(), op, ": axis ", axis, " out of range for ", s);
  return a;
}
/// Copies x's block [start, start+len) along axis into/out of y (or accumulates).
template <class T, class D>
void move_slice(Tensor<T, D> big, int axis, index_t start, index_t len, Tensor<T, D>& small, bool to_small, bool accumulate) {
  const auto [outer, dim, inner] = around_axis(big.shape(), axis);
  if (to_small)
    copy_rows(D{}, outer, len * inner, big.data() + start * inner, dim * inner, small.data(), len * inner, accumulate);
  else
    copy_rows(D{}, outer, len * inner, small.data(), len * inner, big.data() + start * inner, dim * inner, accumulate);
}
}  // namespace detail

/// The block [start, start + len) of x along `axis` (rows: axis 0; channels: axis 1).
template <class T, class D>
Tensor<T, D> slice(const Tensor<T, D>& x, int axis, index_t start, index_t len) {
  const int a = detail::normalize_axis("slice", x.shape(), axis);
  require(start >= 0 && len >= 0 && start + len <= x.shape()[a], "slice: [", start, ", ", start + len, ") out of range for axis ",
          axis, " of ", x.shape());
  Shape s = x.shape();
  s[a] = len;
  Tensor<T, D> y(s);
  detail::move_slice(x, a, start, len, y, true, false);
  return y;
}
template <class T, class D>
Var<T, D> slice(const Var<T, D>& x, int axis, index_t start, index_t len) {
  const Shape from = x.shape();
  const int a = detail::normalize_axis("slice", from, axis);
  return Var<T, D>::op(slice(x.value(), axis, start, len), {&x}, [from, a, start, len](auto& n) {
    Tensor<T, D> g = filled<T, D>(from, T(0));
    detail::move_slice(g, a, start, len, n.grad, false, false);
    send_grad(n, 0, g);
  });
}
template <class V>
DualTensor<V> slice(const DualTensor<V>& x, int axis, index_t start, index_t len) {
  return {primal_value([&] { return slice(x.primal, axis, start, len); }),
          x.has_tangent() ? slice(x.tangent, axis, start, len) : V()};
}

/// The tensors joined along `axis` (all other dimensions equal).
template <class T, class D>
Tensor<T, D> concat(const std::vector<Tensor<T, D>>& xs, int axis) {
  require(!xs.empty(), "concat: no tensors");
  const int a = detail::normalize_axis("concat", xs[0].shape(), axis);
  Shape s = xs[0].shape();
  index_t total = 0;
  for (const auto& x : xs) {
    Shape t = x.shape();
    require(t.rank() == s.rank(), "concat: ranks differ: ", s, " and ", t);
    t[a] = s[a];
    require(t == s, "concat: shapes ", xs[0].shape(), " and ", x.shape(), " differ off axis ", axis);
    total += x.shape()[a];
  }
  s[a] = total;
  Tensor<T, D> y(s);
  index_t at = 0;
  for (const auto& x : xs) {
    Tensor<T, D> piece = x;
    detail::move_slice(y, a, at, x.shape()[a], piece, false, false);
    at += x.shape()[a];
  }
  return y;
}
template <class T, class D>
Var<T, D> concat(const std::vector<Var<T, D>>& xs, int axis) {
  std::vector<Tensor<T, D>> vals;
  for (const auto& x : xs) vals.push_back(x.value());
  Tensor<T, D> y = concat(vals, axis);
  const int a = detail::normalize_axis("concat", y.shape(), axis);
  std::vector<index_t> sizes;
  for (const auto& x : xs) sizes.push_back(x.shape()[a]);
  // Var::op takes a fixed list; record one node whose parents are all inputs.
  Var<T, D> out(y, false);
  if (!grad_enabled()) return out;
  bool any = false;
  for (const auto& x : xs) any = any || x.requires_grad();
  if (!any) return out;
  auto& node = *out.node();
  node.requires_grad = true;
  for (const auto& x : xs) node.parents.push_back(x.requires_grad() ? x.node() : nullptr);
  node.backward = [a, sizes](auto& n) {
    index_t at = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (needs_grad(n, i)) send_grad(n, i, slice(n.grad, a, at, sizes[i]));
      at += sizes[i];
    }
  };
  return out;
}
template <class V>
DualTensor<V> concat(const std::vector<DualTensor<V>>& xs, int axis) {
  std::vector<V> p, t;
  bool any = false;
  for (const auto& x : xs) { p.push_back(x.primal); any = any || x.has_tangent(); }
  V y = primal_value([&] { return concat(p, axis); });
  if (!any) return {y};
  for (const auto& x : xs) t.push_back(x.has_tangent() ? x.tangent : constant<V>(filled<typename ValueTraits<V>::scalar,
                                                                     typename ValueTraits<V>::device>(x.shape(), 0)));
  return {y, concat(t, axis)};
}

// ---- rows: gather and top-k ----------------------------------------------------------------------

/// out[i] = x[index[i] − offset] for the rows (first axis) of x, a zero row where index[i] − offset
/// is not a row of x; differentiable in x. The indices stay in device memory (a kNN's neighbours:
/// [batch; bank] rows are gathered with one call per source, offset 0 and n). Nothing is read back
/// to check them: an index outside is a zero row, never memory outside x. (offset has no default,
/// so that gather_rows(x, {i, j}) means the host-index form below.)
template <class T, class D>
Tensor<T, D> gather_rows(const Tensor<T, D>& x, const DeviceIndices<D>& index, index_t offset) {
  require(x.rank() >= 1, "gather_rows: needs rank ≥ 1, got ", x.shape());
  Shape s = x.shape();
  s[0] = index.size();
  Tensor<T, D> y(s);
  gather_rows(D{}, x.data(), x.dim(0), x.numel() / std::max<index_t>(1, x.dim(0)), index.data(), index.size(), offset, y.data());
  return y;
}
template <class T, class D>
Var<T, D> gather_rows(const Var<T, D>& x, const DeviceIndices<D>& index, index_t offset) {
  const Shape from = x.shape();
  return Var<T, D>::op(gather_rows(x.value(), index, offset), {&x}, [from, index, offset](auto& n) {
    Tensor<T, D> g = filled<T, D>(from, T(0));
    scatter_add_rows(D{}, n.grad.data(), from.numel() / std::max<index_t>(1, from[0]), index.data(), index.size(), offset,
                     g.data(), from[0]);
    send_grad(n, 0, g);
  });
}
template <class V, class D>
DualTensor<V> gather_rows(const DualTensor<V>& x, const DeviceIndices<D>& index, index_t offset) {
  return {primal_value([&] { return gather_rows(x.primal, index, offset); }),
          x.has_tangent() ? gather_rows(x.tangent, index, offset) : V()};
}

/// gather_rows with indices on the host, each checked to be a row of x, then copied to the device
/// once (a convenience outside the training step).
template <class X>
X gather_rows(const X& x, const std::vector<index_t>& index) {
  using D = typename ValueTraits<X>::device;
  const index_t rows = x.shape().rank() >= 1 ? x.shape()[0] : 0;
  require(x.shape().rank() >= 1, "gather_rows: needs rank ≥ 1, got ", x.shape());
  for (index_t i : index) require(i >= 0 && i < rows, "gather_rows: index ", i, " out of range for ", x.shape());
  return gather_rows(x, DeviceIndices<D>::from_host(static_cast<index_t>(index.size()), 1, index), 0);
}

/// The column indices of the k largest entries of each row of a matrix (rows × cols), largest
/// first, ties to the smaller index, in device memory (rows × k). No gradient (indices are discrete).
template <class T, class D>
DeviceIndices<D> topk_columns(const Tensor<T, D>& x, index_t k) {
  require(x.rank() == 2, "topk_columns: needs a matrix, got ", x.shape());
  require(k >= 1 && k <= x.dim(1), "topk_columns: k = ", k, " but only ", x.dim(1), " candidates");
  DeviceIndices<D> out(x.dim(0), k);
  topk_rows(D{}, x.data(), x.dim(0), x.dim(1), k, static_cast<T*>(nullptr), out.data());
  return out;
}
/// topk_columns read back to the host, row-major rows × k (a convenience outside the training step).
template <class T, class D>
std::vector<index_t> topk_indices(const Tensor<T, D>& x, index_t k) {
  require(x.rank() == 2, "topk_indices: needs a matrix, got ", x.shape());
  require(k >= 1 && k <= x.dim(1), "topk_indices: k = ", k, " but only ", x.dim(1), " candidates");
  return to_host(topk_columns(x, k));
}

}  // namespace structgan
