# metal-sim: the project's .metal kernels translated to C++ (the cpp/gpu/sim/msl_translator package)
# and run on CPU threads. Defines metal_sim_add_kernels() and the metalnn_sim library (runtime, sim
# device and the product kernels metal/*.metal).

find_package(Python COMPONENTS Interpreter REQUIRED)
find_package(Threads REQUIRED)
include(${CMAKE_CURRENT_LIST_DIR}/target_cpu.cmake)

set(METALNN_SIM_DIR ${CMAKE_CURRENT_LIST_DIR}/../cpp/gpu/sim)
get_filename_component(METALNN_SIM_DIR ${METALNN_SIM_DIR} ABSOLUTE)
get_filename_component(METALNN_CPP_DIR ${METALNN_SIM_DIR}/../.. ABSOLUTE)
# `python -m msl_translator` from the source tree (its package sits in cpp/gpu/sim).
set(METALNN_SIM_TRANSLATOR ${CMAKE_COMMAND} -E env PYTHONPATH=${METALNN_SIM_DIR} ${Python_EXECUTABLE} -m msl_translator)
file(GLOB METALNN_SIM_TRANSLATOR_SOURCES ${METALNN_SIM_DIR}/msl_translator/*.py)
file(GLOB METALNN_SIM_COMPAT_HEADERS ${METALNN_SIM_DIR}/msl/*.h ${METALNN_SIM_DIR}/kernel_abi.h)

# The address-space check compiles each translated file with clang as C++ for OpenCL (clang 14+).
set(METALNN_SIM_ADDRESS_SPACE_CHECK AUTO CACHE STRING
    "Check MSL address spaces with clang at build time: AUTO (when a clang++ 14+ is found), ON or OFF")
set_property(CACHE METALNN_SIM_ADDRESS_SPACE_CHECK PROPERTY STRINGS AUTO ON OFF)
set(METALNN_SIM_CLANG_FLAG)
if(NOT METALNN_SIM_ADDRESS_SPACE_CHECK STREQUAL "OFF")
  execute_process(COMMAND ${METALNN_SIM_TRANSLATOR} --find-clang
                  OUTPUT_VARIABLE METALNN_SIM_CLANG OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE clang_missing)
  if(clang_missing)
    set(clang_hint "no clang++ 14 or later on PATH (Debian/Ubuntu: apt-get install clang-16)")
    if(METALNN_SIM_ADDRESS_SPACE_CHECK STREQUAL "ON")
      message(FATAL_ERROR "metal-sim: METALNN_SIM_ADDRESS_SPACE_CHECK=ON but ${clang_hint}")
    endif()
    message(STATUS "metal-sim: MSL address-space check off: ${clang_hint}")
  else()
    message(STATUS "metal-sim: MSL address-space check with ${METALNN_SIM_CLANG}")
    set(METALNN_SIM_CLANG_FLAG --clang ${METALNN_SIM_CLANG})
  endif()
endif()

# The race checker's copy of every kernel (METALNN_SIM_RACECHECK=1 at run time) is compiled with
# ThreadSanitizer's instrumentation, which cannot be combined with AddressSanitizer.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND NOT METALNN_SANITIZE)
  set(METALNN_SIM_RACECHECK_DEFAULT ON)
else()
  set(METALNN_SIM_RACECHECK_DEFAULT OFF)
endif()
option(METALNN_SIM_RACECHECK "Build metal-sim's race-check copy of each kernel" ${METALNN_SIM_RACECHECK_DEFAULT})
if(METALNN_SIM_RACECHECK)
  execute_process(COMMAND ${METALNN_SIM_TRANSLATOR} --racecheck-flags ${CMAKE_CXX_COMPILER}
                  OUTPUT_VARIABLE METALNN_SIM_RACECHECK_OPTIONS OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
endif()

# Every half operation rounded to half, as on a GPU (no float precision kept between operations).
execute_process(COMMAND ${METALNN_SIM_TRANSLATOR} --half-flags ${CMAKE_CXX_COMPILER}
                OUTPUT_VARIABLE METALNN_SIM_HALF_OPTIONS OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)

# metal_sim_add_kernels(<target> LIBRARY_FUNCTION <name> SOURCES <.metal files> [INCLUDE_DIRS <dirs>])
# Translates each .metal file into C++ (re-run when the file, a header it includes, the translator or
# the compatibility layer changes; an MSL rule broken is a build error naming the .metal line and the
# rule), compiles it into <target> with the MSL compatibility header force-included, and defines
# `metal_sim::KernelLibrary metal_sim::<name>()` listing all of them (may be empty).
function(metal_sim_add_kernels target)
  cmake_parse_arguments(ARG "" "LIBRARY_FUNCTION" "SOURCES;INCLUDE_DIRS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/metal_sim/${target})
  file(MAKE_DIRECTORY ${out_dir})
  set(include_flags)
  foreach(dir ${ARG_INCLUDE_DIRS})
    get_filename_component(dir ${dir} ABSOLUTE)
    list(APPEND include_flags -I ${dir})
  endforeach()

  set(translated)
  set(racecheck_sources)
  set(racecheck_entries "")
  set(declarations "")
  set(entries "")
  foreach(source ${ARG_SOURCES})
    get_filename_component(source ${source} ABSOLUTE)
    get_filename_component(stem ${source} NAME_WE)
    string(MAKE_C_IDENTIFIER "metal_sim_table_${target}_${stem}" table)
    set(output ${out_dir}/${stem}.metal.cpp)
    add_custom_command(
      OUTPUT ${output}
      COMMAND ${METALNN_SIM_TRANSLATOR} ${source} ${output} --table ${table}
              --cxx ${CMAKE_CXX_COMPILER} ${include_flags} --depfile ${output}.d ${METALNN_SIM_CLANG_FLAG}
      DEPENDS ${source} ${METALNN_SIM_TRANSLATOR_SOURCES} ${METALNN_SIM_COMPAT_HEADERS}
      DEPFILE ${output}.d
      COMMENT "metal-sim: translating ${stem}.metal"
      VERBATIM)
    list(APPEND translated ${output})
    if(METALNN_SIM_RACECHECK)  # the same translation compiled again, into <table>_racecheck
      set(racecheck_source ${out_dir}/${stem}.metal.racecheck.cpp)
      file(CONFIGURE OUTPUT ${racecheck_source} CONTENT "#include \"${output}\"\n" @ONLY)
      list(APPEND racecheck_sources ${racecheck_source})
    endif()
    string(APPEND declarations "extern const ::metal_sim::KernelTable ${table};\n")
    string(APPEND entries "&${table}, ")
    if(METALNN_SIM_RACECHECK)
      string(APPEND declarations "extern const ::metal_sim::KernelTable ${table}_racecheck;\n")
      string(APPEND racecheck_entries "&${table}_racecheck, ")
    endif()
  endforeach()

  set(list_file ${out_dir}/${ARG_LIBRARY_FUNCTION}.cpp)
  file(CONFIGURE OUTPUT ${list_file} CONTENT
"// Generated by metal_sim_add_kernels(); the kernel tables of target ${target}.
#include \"gpu/sim/kernel_registry.h\"

${declarations}
namespace metal_sim {
KernelLibrary ${ARG_LIBRARY_FUNCTION}() { return KernelLibrary{${entries}}; }
// Referenced here so that a static library's race-check copies are linked with the tables (the
// tables refer to them weakly).
extern const KernelTable* const ${ARG_LIBRARY_FUNCTION}_racecheck[];
const KernelTable* const ${ARG_LIBRARY_FUNCTION}_racecheck[] = {${racecheck_entries}nullptr};
}  // namespace metal_sim
" @ONLY)

  set(compile_options -include ${METALNN_SIM_DIR}/msl/msl_compat.h -fno-strict-aliasing
    -fsigned-char)  # MSL char is signed; plain C++ char is unsigned on Linux arm64
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    list(APPEND compile_options -Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable)
    # A GPU does not trap on integer division by zero or INT_MIN / -1, and the simulator gives both a
    # value (runtime/integer_division.cpp); under METALNN_SANITIZE, UBSan must not call them errors.
    list(APPEND compile_options -fno-sanitize=integer-divide-by-zero,signed-integer-overflow)
  endif()
  list(APPEND compile_options ${METALNN_X86_64_OPTIONS} ${METALNN_SIM_HALF_OPTIONS})
  if(translated)
    set_source_files_properties(${translated} PROPERTIES
      COMPILE_OPTIONS "${compile_options}"
      OBJECT_DEPENDS "${METALNN_SIM_COMPAT_HEADERS}")
  endif()
  if(racecheck_sources)
    list(REMOVE_ITEM compile_options -include ${METALNN_SIM_DIR}/msl/msl_compat.h)
    set_source_files_properties(${racecheck_sources} PROPERTIES
      COMPILE_OPTIONS "${compile_options};${METALNN_SIM_RACECHECK_OPTIONS}"
      OBJECT_DEPENDS "${METALNN_SIM_COMPAT_HEADERS};${translated}")
  endif()
  target_sources(${target} PRIVATE ${translated} ${racecheck_sources} ${list_file})
  target_include_directories(${target} PRIVATE ${METALNN_CPP_DIR})
endfunction()

add_library(metalnn_sim STATIC
  ${METALNN_SIM_DIR}/kernel_library_loader.cpp
  ${METALNN_SIM_DIR}/kernel_registry.cpp
  ${METALNN_SIM_DIR}/sim_device.cpp
  ${METALNN_SIM_DIR}/runtime/context_switch.cpp
  ${METALNN_SIM_DIR}/runtime/executor.cpp
  ${METALNN_SIM_DIR}/runtime/fiber_stack.cpp
  ${METALNN_SIM_DIR}/runtime/integer_division.cpp
  ${METALNN_SIM_DIR}/runtime/kernel_hooks.cpp
  ${METALNN_SIM_DIR}/runtime/race_checker.cpp
  ${METALNN_SIM_DIR}/runtime/threadgroup_runner.cpp)
target_include_directories(metalnn_sim PUBLIC $<BUILD_INTERFACE:${METALNN_CPP_DIR}>)
target_link_libraries(metalnn_sim PUBLIC Threads::Threads ${CMAKE_DL_LIBS})
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(metalnn_sim PRIVATE -Wall -Wextra -Wno-unused-parameter)
endif()

file(GLOB METALNN_PRODUCT_KERNELS CONFIGURE_DEPENDS ${METALNN_CPP_DIR}/../metal/*.metal)
metal_sim_add_kernels(metalnn_sim
  LIBRARY_FUNCTION product_kernels
  SOURCES ${METALNN_PRODUCT_KERNELS}
  INCLUDE_DIRS ${METALNN_CPP_DIR}/../metal)

# The translator, the compatibility layer and the runtime's ABI header ship in the Python package
# (metalnn/sim/), for `python -m metalnn.metal_lint` and kernels translated at run time.
if(METALNN_PYTHON)
  install(DIRECTORY ${METALNN_SIM_DIR}/msl_translator ${METALNN_SIM_DIR}/msl ${METALNN_SIM_DIR}/msl_include
          DESTINATION metalnn/sim PATTERN __pycache__ EXCLUDE)
  install(FILES ${METALNN_SIM_DIR}/kernel_abi.h DESTINATION metalnn/sim)
endif()
