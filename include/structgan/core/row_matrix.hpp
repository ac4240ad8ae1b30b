#pragma once
/// \file The N×D row-major matrix, one sample per row: the layout of feature matrices in eval/
/// and of the .npy files in io/ (shared here so that neither depends on the other).
#include <Eigen/Core>

namespace structgan {

template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixF = RowMatrix<float>;
using RowMatrixD = RowMatrix<double>;

}  // namespace structgan
