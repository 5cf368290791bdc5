# The `metal` device, Apple only: metal-cpp fetched at configure time (never committed), every
# metal/*.metal compiled by `xcrun metal` into one metallib embedded in metalnn_core (no metallib
# file to find at run time), and the metal-cpp adapter cpp/gpu/metal/ linked with Metal and Foundation.
#
# METALNN_METAL: AUTO (default) builds the device when the Metal compiler runs, ON requires it, OFF
# leaves it out. Without it the library still has the `cpu` and `metal-sim` devices, and
# metalnn.unavailable_devices() says why `metal` is missing.
set(METALNN_METAL AUTO CACHE STRING "Build the metal device: AUTO (when xcrun finds the Metal compiler), ON or OFF")
set_property(CACHE METALNN_METAL PROPERTY STRINGS AUTO ON OFF)
option(METALNN_METAL_CPP_IMPLEMENTATION
       "Compile metal-cpp's definitions into the library (OFF when the app's own code defines them)" ON)

# The platform the library is built for decides the SDK, the deployment-target flag and its floor:
# Metal Shading Language 3.0 needs macOS 13 / iOS 16.
if(CMAKE_SYSTEM_NAME STREQUAL "iOS")
  if(CMAKE_OSX_SYSROOT MATCHES "[Ss]imulator")
    set(METALNN_METAL_SDK iphonesimulator)
    set(metal_min_flag -mios-simulator-version-min)
  else()
    set(METALNN_METAL_SDK iphoneos)
    set(metal_min_flag -mios-version-min)
  endif()
  set(metal_min_os 16.0)
else()
  set(METALNN_METAL_SDK macosx)
  set(metal_min_flag -mmacosx-version-min)
  set(metal_min_os 13.0)
endif()
if(CMAKE_OSX_DEPLOYMENT_TARGET AND CMAKE_OSX_DEPLOYMENT_TARGET VERSION_GREATER metal_min_os)
  set(metal_min_os ${CMAKE_OSX_DEPLOYMENT_TARGET})
endif()

set(metal_missing "")
if(METALNN_METAL STREQUAL "OFF")
  set(metal_missing "this metalnn was built with METALNN_METAL=OFF")
else()
  execute_process(COMMAND xcrun -sdk ${METALNN_METAL_SDK} metal --version
                  RESULT_VARIABLE metal_rc OUTPUT_QUIET ERROR_VARIABLE metal_error)
  if(NOT metal_rc EQUAL 0)
    set(metal_missing "the Metal compiler (xcrun -sdk ${METALNN_METAL_SDK} metal) was not found when this metalnn was built: \
install Xcode (the Command Line Tools alone have no Metal compiler; Xcode 26 and later also need \
'xcodebuild -downloadComponent MetalToolchain'), then rebuild metalnn")
    if(METALNN_METAL STREQUAL "ON")
      message(FATAL_ERROR "METALNN_METAL=ON: ${metal_missing}\n${metal_error}")
    endif()
    message(WARNING "metalnn: building without the `metal` device (cpu and metal-sim only): ${metal_missing}")
  endif()
endif()
if(metal_missing)
  target_compile_definitions(metalnn_core PRIVATE "METALNN_METAL_MISSING=\"${metal_missing}\"")
  return()
endif()
message(STATUS "metalnn: `metal` device for ${METALNN_METAL_SDK} ${metal_min_os} and later")

# metal-cpp macOS 15 / iOS 18. The hash is the one xmake-repo's metal-cpp package pins for this archive.
include(FetchContent)
set(METALNN_METAL_CPP_URL "https://developer.apple.com/metal/cpp/files/metal-cpp_macOS15_iOS18.zip"
    CACHE STRING "metal-cpp archive")
set(METALNN_METAL_CPP_SHA256 "0433df1e0ab13c2b0becbd78665071e3fa28381e9714a3fce28a497892b8a184"
    CACHE STRING "SHA-256 of the metal-cpp archive")
FetchContent_Declare(metal_cpp URL ${METALNN_METAL_CPP_URL} URL_HASH SHA256=${METALNN_METAL_CPP_SHA256})
FetchContent_MakeAvailable(metal_cpp)

file(GLOB METALNN_METAL_SOURCES CONFIGURE_DEPENDS ${METALNN_ROOT_DIR}/metal/*.metal)
file(GLOB METALNN_METAL_HEADERS CONFIGURE_DEPENDS ${METALNN_ROOT_DIR}/metal/*.h)
set(metal_dir ${CMAKE_CURRENT_BINARY_DIR}/metal)
file(MAKE_DIRECTORY ${metal_dir})  # custom commands do not create their output folders (Xcode generator)
set(metal_flags -std=metal3.0 ${metal_min_flag}=${metal_min_os} -fno-fast-math)
set(air_files)
foreach(source ${METALNN_METAL_SOURCES})
  get_filename_component(stem ${source} NAME_WE)
  set(air ${metal_dir}/${stem}.air)
  add_custom_command(
    OUTPUT ${air}
    COMMAND xcrun -sdk ${METALNN_METAL_SDK} metal -c ${metal_flags} -I ${METALNN_ROOT_DIR}/metal ${source} -o ${air}
    DEPENDS ${source} ${METALNN_METAL_HEADERS}
    COMMENT "metal: compiling ${stem}.metal"
    VERBATIM)
  list(APPEND air_files ${air})
endforeach()
set(metallib ${metal_dir}/metalnn.metallib)
add_custom_command(OUTPUT ${metallib} COMMAND xcrun -sdk ${METALNN_METAL_SDK} metallib ${air_files} -o ${metallib}
                   DEPENDS ${air_files} COMMENT "metal: linking metalnn.metallib" VERBATIM)
set(embedded ${metal_dir}/metallib_data.cpp)
add_custom_command(OUTPUT ${embedded}
                   COMMAND ${Python_EXECUTABLE} ${METALNN_ROOT_DIR}/cpp/gpu/metal/embed_metallib.py ${metallib} ${embedded}
                   DEPENDS ${metallib} ${METALNN_ROOT_DIR}/cpp/gpu/metal/embed_metallib.py VERBATIM)

set(metal_cpp_sources ${METALNN_ROOT_DIR}/cpp/gpu/metal/metal_device.cpp)
# An app that compiles metal-cpp's definitions itself turns this off, or the link sees them twice.
if(METALNN_METAL_CPP_IMPLEMENTATION)
  list(APPEND metal_cpp_sources ${METALNN_ROOT_DIR}/cpp/gpu/metal/metal_cpp_impl.cpp)
endif()
target_sources(metalnn_core PRIVATE ${metal_cpp_sources} ${embedded})
target_include_directories(metalnn_core SYSTEM PRIVATE $<BUILD_INTERFACE:${metal_cpp_SOURCE_DIR}>)
target_compile_definitions(metalnn_core PRIVATE METALNN_WITH_METAL=1)
set_source_files_properties(${metal_cpp_sources} PROPERTIES COMPILE_OPTIONS -fblocks)
target_link_libraries(metalnn_core PUBLIC "-framework Metal" "-framework Foundation")
