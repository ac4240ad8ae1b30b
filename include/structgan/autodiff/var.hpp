#pragma once
/// \file Reverse mode: Var<T, D>, a tensor that remembers the operation that made it.
///
/// Each operation on Var adds one node (per tensor op, not per scalar) holding its value, its
/// parents and a backward rule. `backward(root)` sorts the nodes reachable from root
/// topologically and runs the rules once each, children before parents; then it releases the
/// rules and the saved tensors (the graph's memory), keeping only the leaves' gradients.
/// `input_gradient(root, seed, x)` is the other way through a graph: one leaf's gradient only,
/// with the graph kept for a later backward (PyTorch's autograd.grad with retain_graph).
#include <algorithm>
#include <functional>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "structgan/autodiff/grad_mode.hpp"
#include "structgan/backend/tensor_util.hpp"

namespace structgan {

template <class T, class D>
struct VarNode {
  Tensor<T, D> value;
  Tensor<T, D> grad;                               ///< ∂root/∂value, accumulated during backward
  Tensor<T, D> sink;                               ///< leaves bound to a parameter: its gradient
  std::vector<std::shared_ptr<VarNode>> parents;   ///< inputs that require a gradient
  std::function<void(VarNode&)> backward;          ///< reads grad, accumulates into parents
  bool requires_grad = false;
  bool on_path = true;  ///< false while an input_gradient pass skips this node (no path to its leaf)
};

/// Adds g to node's gradient (in place when that storage is not shared).
template <class T, class D>
void accumulate_grad(VarNode<T, D>& node, const Tensor<T, D>& g) {
  if (!node.grad.defined()) node.grad = g;
  else if (node.grad.use_count() == 1) add_inplace(node.grad, g);
  else {
    Tensor<T, D> sum = clone(node.grad);
    add_inplace(sum, g);
    node.grad = sum;
  }
}

/// A reverse-mode variable. Copies share the node. An undefined Var (default-constructed)
/// stands for an absent value (e.g. a zero tangent).
///
/// Memory: a recorded op's node stays in the graph until backward (its children hold it as a
/// parent), but its value is needed only by the Var handles to it and by the backward rules that
/// saved it (they hold their own copy of the storage). So when the last Var handle to a node with
/// a backward rule goes away, the node lets go of its value: an activation nobody saved is freed
/// at once, as PyTorch frees it, instead of living until backward.
template <class T, class D = Cpu>
class Var {
 public:
  using value_type = T;
  using device_type = D;
  using Node = VarNode<T, D>;

  Var() = default;
  /// A leaf holding `value`; with requires_grad its gradient is kept after backward.
  explicit Var(Tensor<T, D> value, bool requires_grad = false)
      : handle_(std::make_shared<Handle>(std::make_shared<Node>())) {
    node_ptr()->value = std::move(value);
    node_ptr()->requires_grad = requires_grad;
  }
  /// A leaf whose gradient is added into `grad_sink` (a parameter's gradient) by backward.
  static Var bound_to(const Tensor<T, D>& value, const Tensor<T, D>& grad_sink) {
    Var v(value, grad_enabled());
    if (grad_enabled()) v.node_ptr()->sink = grad_sink;
    return v;
  }

  bool defined() const { return static_cast<bool>(handle_); }
  explicit operator bool() const { return defined(); }
  const Tensor<T, D>& value() const { return node_ptr()->value; }
  const Shape& shape() const { return node_ptr()->value.shape(); }
  index_t numel() const { return node_ptr()->value.numel(); }
  index_t dim(int i) const { return node_ptr()->value.dim(i); }
  bool requires_grad() const { return handle_ && node_ptr()->requires_grad; }
  /// The gradient accumulated by backward (undefined if none reached this variable).
  const Tensor<T, D>& grad() const { return node_ptr()->grad; }
  const std::shared_ptr<Node>& node() const {
    static const std::shared_ptr<Node> none;
    return handle_ ? handle_->node : none;
  }

  /// Records an operation: `value` computed from `inputs`, with `rule(node)` reading node.grad
  /// and accumulating into the inputs (call `needs_grad(i)` to skip the others). Records
  /// nothing (a constant) when gradients are off or no input requires one.
  template <class Rule>
  static Var op(Tensor<T, D> value, std::initializer_list<const Var*> inputs, Rule&& rule) {
    Var out(std::move(value), false);
    if (!grad_enabled()) return out;
    bool any = false;
    for (const Var* in : inputs) any = any || (in && in->requires_grad());
    if (!any) return out;
    out.node_ptr()->requires_grad = true;
    for (const Var* in : inputs) out.node_ptr()->parents.push_back(in && in->requires_grad() ? in->node() : nullptr);
    out.node_ptr()->backward = std::forward<Rule>(rule);
    return out;
  }

 private:
  /// Shared by the copies of one Var (not by the graph): its end is the last handle's.
  struct Handle {
    std::shared_ptr<Node> node;
    explicit Handle(std::shared_ptr<Node> n) : node(std::move(n)) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() {
      // Still in a graph (children hold the node) with a rule to run: nothing reads the value
      // again. A leaf keeps it (zeros_like(x.value()) in input_gradient, parameters).
      if (node && node->backward && node.use_count() > 1) node->value = Tensor<T, D>();
    }
  };
  std::shared_ptr<Handle> handle_;
  Node* node_ptr() const { return handle_->node.get(); }
};

/// In a backward rule: whether input i of the node wants a gradient.
template <class T, class D>
bool needs_grad(const VarNode<T, D>& node, std::size_t i) {
  return i < node.parents.size() && node.parents[i] != nullptr && node.parents[i]->on_path;
}
/// In a backward rule: adds g into input i's gradient.
template <class T, class D>
void send_grad(VarNode<T, D>& node, std::size_t i, const Tensor<T, D>& g) {
  if (needs_grad(node, i)) accumulate_grad(*node.parents[i], g);
}

namespace detail {
/// The nodes reachable from root, every node after its parents (post-order DFS, iterative: deep
/// networks would overflow the stack).
template <class T, class D>
std::vector<std::shared_ptr<VarNode<T, D>>> topological_order(const std::shared_ptr<VarNode<T, D>>& root) {
  using Node = VarNode<T, D>;
  std::vector<std::shared_ptr<Node>> order;
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack;
  std::unordered_set<Node*> seen;
  auto visit = [&](Node* n) { return seen.insert(n).second; };
  visit(root.get());
  stack.emplace_back(root, 0);
  while (!stack.empty()) {
    auto& [n, i] = stack.back();
    if (i < n->parents.size()) {
      std::shared_ptr<Node> p = n->parents[i++];
      if (p && visit(p.get())) stack.emplace_back(std::move(p), 0);
    } else {
      order.push_back(std::move(n));
      stack.pop_back();
    }
  }
  return order;
}
}  // namespace detail

/// Runs the backward pass from `root` seeded with `seed` (∂L/∂root; defaults to 1 for a
/// one-element root). Afterwards leaves hold their gradients, parameters' sinks have them added,
/// and the graph below root is released.
template <class T, class D>
void backward(const Var<T, D>& root, Tensor<T, D> seed = {}) {
  require(root.defined(), "backward: undefined root");
  if (!root.requires_grad()) return;
  if (!seed.defined()) {
    require(root.numel() == 1, "backward: root of shape ", root.shape(), " needs an explicit seed");
    seed = filled<T, D>(root.shape(), T(1));
  }
  require(seed.shape() == root.shape(), "backward: seed ", seed.shape(), " for root ", root.shape());
  using Node = VarNode<T, D>;
  // `order` owns the nodes until the pass ends: releasing a node's parents below may drop the
  // last other reference to them.
  std::vector<std::shared_ptr<Node>> order = detail::topological_order(root.node());
  accumulate_grad(*root.node(), seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    if (n.backward) {
      if (n.grad.defined()) n.backward(n);
      n.backward = nullptr;  // releases saved tensors
      n.parents.clear();
      n.grad = Tensor<T, D>();  // intermediate gradients are not kept
    } else if (n.sink.defined() && n.grad.defined()) {
      add_inplace(n.sink, n.grad);
    }
  }
}


/// ∂⟨seed, root⟩/∂x for one leaf x of root's graph (uᵀJ when root = f(x) and seed = u), with the
/// graph kept: a later backward from root, or from anything built on it, runs the same rules
/// again. Only the rules on paths from root to x run, and only their x-side work (a convolution
/// computes its input gradient, not its weight's); no other leaf or parameter gradient is
/// touched. This is PyTorch's torch.autograd.grad(root, x, seed, retain_graph=True).
/// Returns zeros shaped like x when root does not depend on x.
template <class T, class D>
Tensor<T, D> input_gradient(const Var<T, D>& root, const Tensor<T, D>& seed, const Var<T, D>& x) {
  require(root.defined() && x.defined(), "input_gradient: undefined root or input");
  require(seed.shape() == root.shape(), "input_gradient: seed ", seed.shape(), " for root ", root.shape());
  if (!root.requires_grad() || !x.requires_grad()) return zeros_like(x.value());
  using Node = VarNode<T, D>;
  const std::vector<std::shared_ptr<Node>> order = detail::topological_order(root.node());
  // Parents come first in `order`, so one sweep marks every node with a path down to x.
  std::unordered_set<const Node*> reaches{x.node().get()};
  for (const auto& n : order)
    for (const auto& p : n->parents)
      if (p && reaches.count(p.get())) {
        reaches.insert(n.get());
        break;
      }
  // Whatever happens, the graph is left as it was: every node on the path again, with the
  // gradient it held before (a leaf's from an earlier backward), nothing from this pass.
  struct Restore {
    const std::vector<std::shared_ptr<Node>>& nodes;
    std::vector<Tensor<T, D>> held;
    ~Restore() {
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i]->on_path = true;
        nodes[i]->grad = held[i];
      }
    }
  } restore{order, {}};
  restore.held.reserve(order.size());
  for (const auto& n : order) restore.held.push_back(std::exchange(n->grad, Tensor<T, D>()));
  for (const auto& n : order) n->on_path = reaches.count(n.get()) > 0;
  if (!root.node()->on_path) return zeros_like(x.value());
  accumulate_grad(*root.node(), seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    if (n.on_path && n.backward && n.grad.defined()) n.backward(n);
  }
  const Tensor<T, D> g = x.node()->grad;
  return g.defined() ? g : zeros_like(x.value());
}

}  // namespace structgan
