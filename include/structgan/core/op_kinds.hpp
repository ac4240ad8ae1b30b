#pragma once
/// \file The element-wise operations every backend implements (one enum, shared by all backends).

namespace structgan {

/// y = f(x) element by element; `alpha` parametrizes the ops that take one.
enum class UnaryOp {
  Neg,        ///< -x
  Exp,        ///< e^x
  Log,        ///< ln x
  Sqrt,       ///< √x
  Tanh,       ///< tanh x
  Elu,        ///< x > 0 ? x : α(e^x − 1)
  EluDeriv,   ///< d elu/dx = x > 0 ? 1 : αe^x
  EluDeriv2,  ///< d² elu/dx² = x > 0 ? 0 : αe^x
  Relu,       ///< max(x, 0)
  Step,       ///< x > α ? 1 : 0 (the derivative of relu and of clamp_min)
  Abs,        ///< |x|
  Sign,       ///< sign x (0 at 0)
  Square,     ///< x²
  Pow,        ///< x^α
  AddScalar,  ///< x + α
  MulScalar,  ///< αx
  ClampMin,   ///< max(x, α)
  Reciprocal  ///< 1/x
};

/// z = f(a, b) element by element with broadcasting (a dimension of size 1 repeats).
enum class BinaryOp {
  Add,
  Sub,
  Mul,
  Div,
  EluTangent,   ///< elu′(a)·b = a > 0 ? b : eᵃ·b (ELU's tangent, and its VJP with b the output gradient)
  EluCurvature  ///< elu″(a)·b = a > 0 ? 0 : eᵃ·b (the tangent's reverse rule)
};

}  // namespace structgan
