# structgan::cuda — settings for our own CUDA executables (tests, examples, benchmarks). The target
# itself is defined by the top-level CMakeLists.txt when STRUCTGAN_CUDA is ON.
if(NOT STRUCTGAN_CUDA OR NOT TARGET structgan_cuda)
  return()
endif()
# GPU architectures: 80;90 (A100, H100) unless chosen. CMake fills CMAKE_CUDA_ARCHITECTURES with
# nvcc's own default (sm_52 before CUDA 13, sm_75 with it) under the help string "CUDA
# architectures"; a value given with -D, in the environment (CUDAARCHS) or by us has another origin.
get_property(_structgan_arch_help CACHE CMAKE_CUDA_ARCHITECTURES PROPERTY HELPSTRING)
if(_structgan_arch_help STREQUAL "CUDA architectures" AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES 80 90 CACHE STRING
      "CUDA architectures of structgan's own CUDA executables (default 80;90; set with -DCMAKE_CUDA_ARCHITECTURES=...)" FORCE)
endif()
message(STATUS "structgan: structgan::cuda enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
