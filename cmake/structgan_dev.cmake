# Settings for structgan's own tests, examples and benchmarks. Never applied to the INTERFACE target.
add_library(structgan_dev INTERFACE)
target_link_libraries(structgan_dev INTERFACE structgan::structgan)
target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
if(STRUCTGAN_NATIVE)
  target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics
    # (_mm512_undefined_pd in Eigen's packet math), thousands of lines per build.
    target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized -Wno-uninitialized>)
  endif()
endif()
# STRUCTGAN_DEV_OPT (e.g. -O1): an optimization flag for everything built here (examples,
# benchmarks, test helpers), after the build type's. The test command passes -O1: there the
# examples and benchmark binaries only run smoke tests, and -O1 halves their compile time. Empty
# (the default) keeps the build type's flags, which is what the main job and run_all.py use.
set(STRUCTGAN_DEV_OPT "" CACHE STRING "Optimization flag of structgan's own examples and benchmarks (empty: the build type's)")
# STRUCTGAN_EXAMPLES_OPT (e.g. -O0): the examples' own flag, when set (the test command passes -O0:
# their smoke tests run for a second, and -O0 halves their compile time again).
set(STRUCTGAN_EXAMPLES_OPT "" CACHE STRING "Optimization flag of structgan's examples (empty: STRUCTGAN_DEV_OPT)")
# A target's STRUCTGAN_OPT property, where set (the tests', the examples'), is its optimization
# flag in place of STRUCTGAN_DEV_OPT; it comes after the build type's flags, so it decides.
set(_structgan_opt "$<IF:$<BOOL:$<TARGET_PROPERTY:STRUCTGAN_OPT>>,$<TARGET_PROPERTY:STRUCTGAN_OPT>,${STRUCTGAN_DEV_OPT}>")
target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${_structgan_opt}>)
# nvcc units take the same flag for their host code, as nvcc's own -O (which names the host code's
# level only: the device code keeps nvcc's optimization). nvcc hands the host compiler its -O after
# every -Xcompiler flag, so an -Xcompiler=-O0 lost to the build type's -O3 (the GPU tests' host code
# was compiled at -O3 where -O0 was asked for), and a second -O draws nvcc's "incompatible
# redefinition" warning. Hence the build type's -O leaves CMAKE_CUDA_FLAGS_<CONFIG> here (this
# directory's copy, which our tests, examples and benchmarks inherit; the cache and a parent
# project's flags are untouched) and comes back as the fallback of the same expression.
if(CMAKE_CUDA_COMPILER)
  set(_structgan_cuda_build_opt "")
  foreach(_cfg DEBUG RELEASE RELWITHDEBINFO MINSIZEREL)
    string(REGEX MATCH "(^| )-O[0-3]( |$)" _o "${CMAKE_CUDA_FLAGS_${_cfg}}")
    string(STRIP "${_o}" _o)
    string(REGEX REPLACE "(^| )-O[0-3]( |$)" " " CMAKE_CUDA_FLAGS_${_cfg} "${CMAKE_CUDA_FLAGS_${_cfg}}")
    if(_o)
      string(APPEND _structgan_cuda_build_opt "$<$<CONFIG:${_cfg}>:${_o}>")
    endif()
  endforeach()
  target_compile_options(structgan_dev INTERFACE
    "$<$<COMPILE_LANGUAGE:CUDA>:$<IF:$<BOOL:${_structgan_opt}>,${_structgan_opt},${_structgan_cuda_build_opt}>>")
endif()
if(STRUCTGAN_ASSERTIONS)
  # -UNDEBUG comes after the build type's -DNDEBUG on the command line, so it wins; the cached
  # flags stay as they are (a parent project's too).
  target_compile_options(structgan_dev INTERFACE -UNDEBUG)
endif()
if(STRUCTGAN_SANITIZE)
  target_compile_options(structgan_dev INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(structgan_dev INTERFACE -fsanitize=address,undefined)
endif()

# build_info() (structgan/core/build_info.hpp) in our own programs: the flags in a header generated
# when CMake configures (they change only then), the target's own optimization flag as a
# definition, and the commit from structgan_build_commit() in a one-function library whose source
# is regenerated at every build (cmake/structgan_commit.cmake), so that a build folder rebuilt
# after a commit names that commit (it named the one it was configured at), while a new commit
# recompiles one tiny unit and relinks.
find_package(Git QUIET)
set(_structgan_commit_cpp ${PROJECT_BINARY_DIR}/generated/structgan_build_commit.cpp)
add_custom_target(structgan_commit
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUTPUT=${_structgan_commit_cpp}
          "-DGIT_EXECUTABLE=${GIT_EXECUTABLE}" -P ${PROJECT_SOURCE_DIR}/cmake/structgan_commit.cmake
  BYPRODUCTS ${_structgan_commit_cpp}
  COMMENT "structgan: the commit for build_info()" VERBATIM)
add_library(structgan_build_commit STATIC ${_structgan_commit_cpp})
add_dependencies(structgan_build_commit structgan_commit)
target_link_libraries(structgan_dev INTERFACE structgan_build_commit)
target_compile_definitions(structgan_dev INTERFACE STRUCTGAN_HAS_BUILD_COMMIT)
string(TOUPPER "${CMAKE_BUILD_TYPE}" _bt)
set(_structgan_flags "(${CMAKE_BUILD_TYPE}) ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_bt}}")
if(STRUCTGAN_NATIVE)
  string(APPEND _structgan_flags " -march=native")
endif()
if(STRUCTGAN_ASSERTIONS)
  string(APPEND _structgan_flags " -UNDEBUG")
endif()
if(STRUCTGAN_SANITIZE)
  string(APPEND _structgan_flags " -fsanitize=address,undefined")
endif()
string(REGEX REPLACE " +" " " _structgan_flags "${_structgan_flags}")
string(STRIP "${_structgan_flags}" _structgan_flags)
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/generated/structgan_build_config.h CONTENT
  "#define STRUCTGAN_VERSION_STRING \"${PROJECT_VERSION}\"\n#define STRUCTGAN_BUILD_FLAGS \"${_structgan_flags}\"\n")
target_include_directories(structgan_dev INTERFACE ${PROJECT_BINARY_DIR}/generated)
target_compile_definitions(structgan_dev INTERFACE "STRUCTGAN_OPT_FLAG=\"${_structgan_opt}\"")

# structgan_add_version_test(<program>): `<program> --version` prints build_info()'s line.
function(structgan_add_version_test program)
  add_test(NAME version_${program} COMMAND ${program} --version)
  set_tests_properties(version_${program} PROPERTIES LABELS "version" PASS_REGULAR_EXPRESSION
    "^structgan ${PROJECT_VERSION} \\(commit ([0-9a-f]+(-modified)?|unknown)\\); [a-z]+ [0-9][^;]*; flags \\(${CMAKE_BUILD_TYPE}\\)[^;]*; backends cpu[^;]*; (OpenMP [0-9]+ threads|no OpenMP \\(1 thread\\))\n$")
endfunction()

find_package(Boost 1.70 COMPONENTS unit_test_framework)

# Tests compile at -O1 by default: it halves the compile time of the template-heavy test files
# (measured: 31 s instead of 56 s of CPU for tests/autodiff/test_conv_norm.cpp) while keeping them
# fast enough to run. A test that runs long passes OPT -O2 to structgan_add_test.
set(STRUCTGAN_TEST_OPT "-O1" CACHE STRING "Optimization flag of structgan's test executables")
# Tests that run for a second or less even unoptimized (the autodiff, objectives, data, eval, io
# and docs tests) pass OPT ${STRUCTGAN_QUICK_TEST_OPT}: -O0 halves their compile time again
# (measured on the autodiff group: 111 s → 60 s of CPU), the largest part of the test command.
set(STRUCTGAN_QUICK_TEST_OPT "-O0" CACHE STRING "Optimization flag of the tests that run quickly")

# structgan_add_test(name SOURCES a.cpp ... [LIBS lib ...] [LABELS l ...] [ARGS ...] [OPT -O2])
# One small executable per concern (many small TUs compile faster on 2 cores than one giant one).
function(structgan_add_test name)
  cmake_parse_arguments(T "" "OPT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  if(NOT T_OPT)
    set(T_OPT ${STRUCTGAN_TEST_OPT})
  endif()
  set_target_properties(${name} PROPERTIES STRUCTGAN_OPT ${T_OPT})
  target_link_libraries(${name} PRIVATE structgan_dev Boost::unit_test_framework ${T_LIBS})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# structgan_add_test_group(<executable> TESTS name source [name source ...] [LIBS lib ...]
#                          [LABELS l ...] [ARGS ...] [OPT -O2] [CUDA] [NO_MAIN])
# Several Boost.Test files compiled as ONE translation unit, each in its own namespace and test
# suite, so that the templates they share (networks, ops, the trainer: the bulk of the compile
# time) are instantiated and optimized once instead of once per file (measured: the four train
# tests take 59 s of CPU as one unit instead of 221 s as four). Each file still appears as its own
# CTest test (`<executable> --run_test=<name>`, its own process). The files' #include lines are
# hoisted to the top of the generated unit, so a file may not include anything conditionally; a
# change to a listed file re-runs CMake, which regenerates the unit. CUDA: the unit is a .cu file
# (nvcc). NO_MAIN: the files bring their own main (tests/cuda/gpu_test_main.hpp), so Boost.Test's
# is left out. ARGS: given to every test after Boost.Test's `--`, so a file reads them as the master
# suite's argv (tests/common/program_test.hpp).
function(structgan_add_test_group exe)
  cmake_parse_arguments(G "CUDA;NO_MAIN" "OPT" "TESTS;LIBS;LABELS;ARGS" ${ARGN})
  list(LENGTH G_TESTS _n)
  math(EXPR _last "${_n} - 1")
  set(_includes "")
  set(_bodies "")
  set(_names "")
  set(_dirs "")
  foreach(_i RANGE 0 ${_last} 2)
    math(EXPR _j "${_i} + 1")
    list(GET G_TESTS ${_i} _name)
    list(GET G_TESTS ${_j} _src)
    get_filename_component(_src ${_src} ABSOLUTE)
    get_filename_component(_dir ${_src} DIRECTORY)
    list(APPEND _dirs ${_dir})
    list(APPEND _names ${_name})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src})
    file(STRINGS ${_src} _lines REGEX "^[ \t]*#[ \t]*include[ \t]")
    list(APPEND _includes ${_lines})
    string(APPEND _bodies "#undef BOOST_TEST_MODULE\nnamespace structgan_test_${_name} {\nBOOST_AUTO_TEST_SUITE(${_name})\n"
                          "#include \"${_src}\"\nBOOST_AUTO_TEST_SUITE_END()\n}  // namespace structgan_test_${_name}\n")
  endforeach()
  list(REMOVE_DUPLICATES _includes)
  list(REMOVE_DUPLICATES _dirs)
  string(REPLACE ";" "\n" _includes "${_includes}")
  string(REPLACE ";" ", " _listed "${_names}")
  set(_unit ${CMAKE_CURRENT_BINARY_DIR}/${exe}_unit.cpp)
  if(G_CUDA)
    set(_unit ${CMAKE_CURRENT_BINARY_DIR}/${exe}_unit.cu)
  endif()
  set(_no_main "")
  if(G_NO_MAIN)
    set(_no_main "#define BOOST_TEST_NO_MAIN\n")
  endif()
  file(CONFIGURE OUTPUT ${_unit} CONTENT "// Generated by structgan_add_test_group (cmake/structgan_dev.cmake): the tests ${_listed}\n// as one translation unit. Edit the listed files, not this one.\n#define BOOST_TEST_MODULE ${exe}\n${_no_main}#include <boost/test/unit_test.hpp>\n${_includes}\n${_bodies}" @ONLY)
  add_executable(${exe} ${_unit})
  if(NOT G_OPT)
    set(G_OPT ${STRUCTGAN_TEST_OPT})
  endif()
  set_target_properties(${exe} PROPERTIES STRUCTGAN_OPT ${G_OPT})
  target_include_directories(${exe} PRIVATE ${_dirs} ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${exe} PRIVATE structgan_dev Boost::unit_test_framework ${G_LIBS})
  target_compile_definitions(${exe} PRIVATE BOOST_TEST_DYN_LINK)
  foreach(_name ${_names})
    if(G_ARGS)
      add_test(NAME ${_name} COMMAND ${exe} --run_test=${_name} -- ${G_ARGS})
    else()
      add_test(NAME ${_name} COMMAND ${exe} --run_test=${_name})
    endif()
    if(G_LABELS)
      set_tests_properties(${_name} PROPERTIES LABELS "${G_LABELS}")
    endif()
  endforeach()
endfunction()
