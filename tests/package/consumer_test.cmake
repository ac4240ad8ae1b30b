# cmake -P script: install structgan into a scratch prefix, then configure, build and run consumer
# projects (tests/package/consumer) against it: one Debug consumer per component, asking for that
# component alone (so each finds its own dependencies), one Release consumer asking for all, and
# one through add_subdirectory. Also checks what the package must not do to a consumer.
cmake_policy(VERSION 3.20)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
# consumer(<name> <components> <programs> <cmake args...>): configure a consumer project asking for
# <components>, build the programs of <programs> (a subset of them) and run them.
function(consumer name components programs)
  string(REPLACE ";" "," listed "${components}")
  string(REPLACE ";" "," built "${programs}")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/${name} -G ${GENERATOR}
      -DSTRUCTGAN_CONSUMER_COMPONENTS=${listed} -DSTRUCTGAN_CONSUMER_PROGRAMS=${built} ${ARGN})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${name})
  foreach(c ${programs})
    execute_process(COMMAND ${WORK_DIR}/${name}/consumer_${c} WORKING_DIRECTORY ${WORK_DIR}/${name}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT out MATCHES " ok\n$")
      message(FATAL_ERROR "${name}: consumer_${c} failed (${rc}): ${out}${err}")
    endif()
  endforeach()
endfunction()
function(cached_value build var out)
  file(STRINGS ${build}/CMakeCache.txt line REGEX "^${var}:")
  string(REGEX REPLACE "^[^=]*=" "" line "${line}")
  set(${out} "${line}" PARENT_SCOPE)
endfunction()

# 1. Install (a fresh configure of the library alone) and build a consumer per component.
set(lib_args -DSTRUCTGAN_CUDA=OFF -DSTRUCTGAN_BUILD_TESTS=OFF -DSTRUCTGAN_BUILD_EXAMPLES=OFF -DSTRUCTGAN_BUILD_BENCHMARKS=OFF)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -G ${GENERATOR} ${lib_args})
run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib --prefix ${WORK_DIR}/prefix)
set(cmake_dir ${WORK_DIR}/prefix/share/structgan/cmake)
foreach(f include/structgan/structgan.hpp share/structgan/cmake/structganConfig.cmake share/structgan/cmake/structgan-core-targets.cmake)
  if(NOT EXISTS ${WORK_DIR}/prefix/${f})
    message(FATAL_ERROR "install did not write ${f}")
  endif()
endforeach()
include(${cmake_dir}/structgan-components.cmake)  # _structgan_built_components
# This machine has every dependency (scripts/install_deps.sh): a component missing here is a bug.
foreach(c objectives nn data io eval train)
  if(NOT c IN_LIST _structgan_built_components)
    message(FATAL_ERROR "the installed package lacks the component ${c} (has: ${_structgan_built_components})")
  endif()
endforeach()
foreach(c core ${_structgan_built_components})
  consumer(debug_${c} "${c}" "${c}" -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Debug)
endforeach()
# Every component asked for at once, in Release (-DNDEBUG: the only place a consumer compiles the
# library with assertions off): each program was compiled above, so only the trainer's (which
# includes most of the others) is built again (CI time); the consumer checks every target exists.
consumer(release_all "core;${_structgan_built_components}" "train" -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
         -DCMAKE_BUILD_TYPE=Release)

# 2. A component the package was built without is reported as not found.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/missing -G ${GENERATOR}
                        -DSTRUCTGAN_CONSUMER_COMPONENTS=no_such_component -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "without the component no_such_component")
  message(FATAL_ERROR "find_package(structgan COMPONENTS no_such_component) did not fail as expected:\n${out}\n${err}")
endif()

# 3. OpenMP is a usage requirement only with STRUCTGAN_OPENMP (default ON).
file(READ ${cmake_dir}/structgan-core-targets.cmake core_targets)
if(OPENMP_FOUND AND NOT core_targets MATCHES "OpenMP::OpenMP_CXX")
  message(FATAL_ERROR "STRUCTGAN_OPENMP=ON (default) but structgan::structgan does not carry OpenMP")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib_no_openmp -G ${GENERATOR} ${lib_args} -DSTRUCTGAN_OPENMP=OFF)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib_no_openmp --prefix ${WORK_DIR}/prefix_no_openmp)
file(READ ${WORK_DIR}/prefix_no_openmp/share/structgan/cmake/structgan-core-targets.cmake core_targets)
file(READ ${WORK_DIR}/prefix_no_openmp/share/structgan/cmake/structgan-components.cmake components)
if(core_targets MATCHES "OpenMP" OR components MATCHES "OpenMP")
  message(FATAL_ERROR "STRUCTGAN_OPENMP=OFF but the installed package still asks for OpenMP")
endif()

# 4. add_subdirectory: every component a target (the consumer checks), the core's program built and
# run (the trainer's program was compiled twice above: CI time), the library's tests not pulled in,
# and the parent's cached flags untouched by STRUCTGAN_ASSERTIONS (a flag of structgan's own targets).
consumer(subdir "core;${_structgan_built_components}" "core" -DSTRUCTGAN_SOURCE_DIR=${SOURCE_DIR}
         -DCMAKE_BUILD_TYPE=Debug -DSTRUCTGAN_CUDA=OFF -DSTRUCTGAN_ASSERTIONS=ON)
if(EXISTS ${WORK_DIR}/subdir/structgan/tests)
  message(FATAL_ERROR "add_subdirectory built structgan's tests in a parent project")
endif()
cached_value(${WORK_DIR}/subdir CMAKE_CXX_FLAGS_RELEASE release_flags)
if(NOT release_flags MATCHES "-DNDEBUG")
  message(FATAL_ERROR "STRUCTGAN_ASSERTIONS=ON edited the parent's cached CMAKE_CXX_FLAGS_RELEASE: '${release_flags}'")
endif()

# 5. With nvcc: the cuda component from an installed package, and a parent project that chose no
# CUDA architectures does not get structgan's 80;90.
if(CUDA_COMPILER)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib_cuda -G ${GENERATOR} ${lib_args} -DSTRUCTGAN_CUDA=ON
      -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER})
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib_cuda --prefix ${WORK_DIR}/prefix_cuda)
  consumer(debug_cuda "cuda" "cuda" -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix_cuda -DCMAKE_BUILD_TYPE=Debug)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/subdir_cuda -G ${GENERATOR}
      -DSTRUCTGAN_SOURCE_DIR=${SOURCE_DIR} -DSTRUCTGAN_CUDA=ON -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER})
  cached_value(${WORK_DIR}/subdir_cuda CMAKE_CUDA_ARCHITECTURES archs)
  if(archs STREQUAL "80;90")
    message(FATAL_ERROR "structgan forced its CUDA architectures (${archs}) into a parent project's cache")
  endif()
endif()
message(STATUS "package consumer: components ${_structgan_built_components} through find_package (Debug, Release) and add_subdirectory")
