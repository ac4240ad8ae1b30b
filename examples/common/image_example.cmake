# structgan_image_example(<name>): an image training example (main.cpp in the current folder). The
# trainer is instantiated once for all image examples, in the static library
# structgan_image_examples (common/image_main.cpp: the CPU path); with STRUCTGAN_CUDA and
# structgan::cuda also common/cuda_entry.cu (nvcc, the --device cuda path). Each example's main.cpp
# only names its default preset, so a new example costs no compile time.
# STRUCTGAN_EXAMPLES_CUDA decides whether the --device cuda path is built: by default only where a
# GPU is visible (nvidia-smi -L succeeds), since it is the most expensive unit of the whole build
# (about 4 minutes of nvcc); -DSTRUCTGAN_EXAMPLES_CUDA=ON builds it anyway (e.g. to copy the
# programs to a GPU machine).
if(NOT DEFINED STRUCTGAN_EXAMPLES_CUDA)
  execute_process(COMMAND nvidia-smi -L RESULT_VARIABLE _structgan_no_gpu OUTPUT_QUIET ERROR_QUIET)
  set(_structgan_examples_cuda OFF)
  if(_structgan_no_gpu EQUAL 0)
    set(_structgan_examples_cuda ON)
  endif()
endif()
option(STRUCTGAN_EXAMPLES_CUDA "Build the image examples' --device cuda path (nvcc; default: ON where a GPU is visible)"
       ${_structgan_examples_cuda})
function(structgan_image_example name)
  if(NOT TARGET structgan_train OR NOT TARGET structgan_eval)
    message(STATUS "structgan: ${name} skipped (structgan::train or structgan::eval missing)")
    return()
  endif()
  if(NOT TARGET structgan_image_examples)
    add_library(structgan_image_examples STATIC ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/image_main.cpp)
    # structgan_eval: the end-of-training evaluation (common/evaluate.hpp); the trainer itself needs no LIBLINEAR.
    target_link_libraries(structgan_image_examples PUBLIC structgan_dev structgan_train structgan_eval)
    # mpirun/srun: the MPI engine of the communicator where it is built (docs/distributed.md).
    if(TARGET structgan_mpi)
      target_link_libraries(structgan_image_examples PUBLIC structgan_mpi)
    endif()
    if(STRUCTGAN_CUDA AND STRUCTGAN_EXAMPLES_CUDA AND TARGET structgan::cuda)
      add_library(structgan_image_examples_cuda STATIC ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/cuda_entry.cu)
      target_link_libraries(structgan_image_examples_cuda PUBLIC structgan_dev structgan_train structgan::cuda)
      # Eigen is instantiated in both the nvcc and the g++ translation units of one program. Its
      # aligned allocation and the alignment it assumes depend on the instruction set a unit is
      # compiled for (16 bytes for SSE, 64 for AVX-512), and the linker keeps one copy of each
      # inline function: units that disagree free with the wrong scheme ("double free or
      # corruption"). Hence one alignment for every unit of these programs, and the same
      # host instruction set for nvcc's host pass as for the C++ units (docs/cuda.md).
      target_compile_definitions(structgan_image_examples_cuda PUBLIC STRUCTGAN_EXAMPLES_WITH_CUDA=1 EIGEN_MAX_ALIGN_BYTES=64
                                 PRIVATE EIGEN_NO_CUDA)
      if(STRUCTGAN_NATIVE)
        target_compile_options(structgan_image_examples_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-march=native>)
      endif()
      set_target_properties(structgan_image_examples_cuda PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
      # mpirun/srun with --device cuda: the NCCL engine where it is built, else MPI as on the CPU
      # (docs/distributed.md). PRIVATE: STRUCTGAN_HAVE_NCCL is for this nvcc unit only (nccl.h);
      # the libraries still reach the programs' link.
      if(TARGET structgan_nccl)
        target_link_libraries(structgan_image_examples_cuda PRIVATE structgan_nccl)
      elseif(TARGET structgan_mpi)
        target_link_libraries(structgan_image_examples_cuda PRIVATE structgan_mpi)
      endif()
      target_link_libraries(structgan_image_examples PUBLIC structgan_image_examples_cuda)
    endif()
  endif()
  add_executable(${name} main.cpp)
  target_link_libraries(${name} PRIVATE structgan_image_examples)
endfunction()
