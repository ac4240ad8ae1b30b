# Settings for structgan's own tests, examples and benchmarks. Never applied to the INTERFACE target.
add_library(structgan_dev INTERFACE)
target_link_libraries(structgan_dev INTERFACE structgan::structgan)
target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
if(STRUCTGAN_NATIVE)
  target_compile_options(structgan_dev INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
if(STRUCTGAN_ASSERTIONS)
  foreach(_cfg CMAKE_CXX_FLAGS_RELEASE CMAKE_CXX_FLAGS_RELWITHDEBINFO)
    string(REPLACE "-DNDEBUG" "" ${_cfg} "${${_cfg}}")
    set(${_cfg} "${${_cfg}}" CACHE STRING "" FORCE)
  endforeach()
endif()
if(STRUCTGAN_SANITIZE)
  target_compile_options(structgan_dev INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(structgan_dev INTERFACE -fsanitize=address,undefined)
endif()

find_package(Boost 1.70 COMPONENTS unit_test_framework)

# Tests compile at -O1 by default: it halves the compile time of the template-heavy test files
# (measured: 31 s instead of 56 s of CPU for tests/autodiff/test_conv_norm.cpp) while keeping them
# fast enough to run. A test that runs long passes OPT -O2 to structgan_add_test.
set(STRUCTGAN_TEST_OPT "-O1" CACHE STRING "Optimization flag of structgan's test executables")

# structgan_add_test(name SOURCES a.cpp ... [LIBS lib ...] [LABELS l ...] [ARGS ...] [OPT -O2])
# One small executable per concern (many small TUs compile faster on 2 cores than one giant one).
function(structgan_add_test name)
  cmake_parse_arguments(T "" "OPT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  if(NOT T_OPT)
    set(T_OPT ${STRUCTGAN_TEST_OPT})
  endif()
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${T_OPT}>)
  target_link_libraries(${name} PRIVATE structgan_dev Boost::unit_test_framework ${T_LIBS})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
