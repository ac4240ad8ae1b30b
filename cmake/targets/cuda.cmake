# structgan::cuda — the CUDA backend. The target itself is defined by the top-level CMakeLists.txt
# when STRUCTGAN_CUDA is ON (with the default architectures of our own CUDA executables).
if(NOT STRUCTGAN_CUDA OR NOT TARGET structgan_cuda)
  return()
endif()
message(STATUS "structgan: structgan::cuda enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
