# BLAS for the cpu device: Accelerate on Apple; elsewhere OpenBLAS from the scipy-openblas32 wheel, a
# build (and run-time) dependency, so nobody has to install a system BLAS.
add_library(metalnn_blas INTERFACE)
if(APPLE)
  target_compile_definitions(metalnn_blas INTERFACE METALNN_USE_ACCELERATE ACCELERATE_NEW_LAPACK)
  target_link_libraries(metalnn_blas INTERFACE "-framework Accelerate")
  function(metalnn_set_blas_rpath target)
  endfunction()
  return()
endif()

# METALNN_OPENBLAS_DIR (the wheel's scipy_openblas32 folder) stands in for the import when
# cross-compiling: the package loads its library on import, which the host cannot do for another CPU.
set(METALNN_OPENBLAS_DIR "" CACHE PATH "scipy_openblas32 package folder (default: ask Python)")
if(METALNN_OPENBLAS_DIR)
  set(_openblas_info "${METALNN_OPENBLAS_DIR}/include\n${METALNN_OPENBLAS_DIR}/lib\nscipy_openblas")
  set(_openblas_rc 0)
else()
  find_package(Python COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python_EXECUTABLE} -c
      "import scipy_openblas32 as s; print(s.get_include_dir()); print(s.get_lib_dir()); print(s.get_library())"
    OUTPUT_VARIABLE _openblas_info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _openblas_rc)
endif()
if(NOT _openblas_rc EQUAL 0)
  message(FATAL_ERROR "metalnn needs the scipy-openblas32 Python package for BLAS: pip install scipy-openblas32")
endif()
string(REPLACE "\n" ";" _openblas_info "${_openblas_info}")
list(GET _openblas_info 0 METALNN_OPENBLAS_INCLUDE)
list(GET _openblas_info 1 METALNN_OPENBLAS_LIBDIR)
list(GET _openblas_info 2 METALNN_OPENBLAS_NAME)
find_library(METALNN_OPENBLAS_LIB NAMES ${METALNN_OPENBLAS_NAME} PATHS ${METALNN_OPENBLAS_LIBDIR} NO_DEFAULT_PATH REQUIRED)
target_include_directories(metalnn_blas INTERFACE ${METALNN_OPENBLAS_INCLUDE})
target_link_libraries(metalnn_blas INTERFACE ${METALNN_OPENBLAS_LIB})

# The installed module finds the wheel's library next to it in site-packages; build-tree binaries
# (tests, benchmarks) use the absolute path they were linked against.
function(metalnn_set_blas_rpath target)
  set_target_properties(${target} PROPERTIES
    INSTALL_RPATH "$ORIGIN/../scipy_openblas32/lib"
    BUILD_RPATH "${METALNN_OPENBLAS_LIBDIR}")
endfunction()
