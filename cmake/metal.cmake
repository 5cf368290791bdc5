# The `metal` device, Apple only: metal-cpp fetched at configure time (never committed), every
# metal/*.metal compiled by `xcrun metal` into one metallib embedded in metalnn_core (no metallib
# file to find at run time), and the metal-cpp adapter cpp/gpu/metal/ linked with Metal, Foundation
# and QuartzCore.
include(FetchContent)
set(METALNN_METAL_CPP_URL "https://developer.apple.com/metal/cpp/files/metal-cpp_macOS14.2_iOS17.2.zip"
    CACHE STRING "metal-cpp archive")
FetchContent_Declare(metal_cpp URL ${METALNN_METAL_CPP_URL})
FetchContent_MakeAvailable(metal_cpp)

set(METALNN_METAL_SDK macosx CACHE STRING "xcrun SDK for the Metal compiler (macosx, iphoneos)")
file(GLOB METALNN_METAL_SOURCES CONFIGURE_DEPENDS ${METALNN_ROOT_DIR}/metal/*.metal)
file(GLOB METALNN_METAL_HEADERS CONFIGURE_DEPENDS ${METALNN_ROOT_DIR}/metal/*.h)
set(air_files)
foreach(source ${METALNN_METAL_SOURCES})
  get_filename_component(stem ${source} NAME_WE)
  set(air ${CMAKE_CURRENT_BINARY_DIR}/metal/${stem}.air)
  add_custom_command(
    OUTPUT ${air}
    COMMAND xcrun -sdk ${METALNN_METAL_SDK} metal -c -std=metal2.4 -fno-fast-math -I ${METALNN_ROOT_DIR}/metal
            ${source} -o ${air}
    DEPENDS ${source} ${METALNN_METAL_HEADERS}
    COMMENT "metal: compiling ${stem}.metal"
    VERBATIM)
  list(APPEND air_files ${air})
endforeach()
set(metallib ${CMAKE_CURRENT_BINARY_DIR}/metal/metalnn.metallib)
add_custom_command(OUTPUT ${metallib} COMMAND xcrun -sdk ${METALNN_METAL_SDK} metallib ${air_files} -o ${metallib}
                   DEPENDS ${air_files} COMMENT "metal: linking metalnn.metallib" VERBATIM)
set(embedded ${CMAKE_CURRENT_BINARY_DIR}/metal/metallib_data.cpp)
add_custom_command(OUTPUT ${embedded}
                   COMMAND ${Python_EXECUTABLE} ${METALNN_ROOT_DIR}/cpp/gpu/metal/embed_metallib.py ${metallib} ${embedded}
                   DEPENDS ${metallib} ${METALNN_ROOT_DIR}/cpp/gpu/metal/embed_metallib.py VERBATIM)

target_sources(metalnn_core PRIVATE ${METALNN_ROOT_DIR}/cpp/gpu/metal/metal_device.cpp ${embedded})
target_include_directories(metalnn_core PRIVATE $<BUILD_INTERFACE:${metal_cpp_SOURCE_DIR}>)
target_compile_definitions(metalnn_core PRIVATE METALNN_WITH_METAL=1)
set_source_files_properties(${METALNN_ROOT_DIR}/cpp/gpu/metal/metal_device.cpp PROPERTIES COMPILE_OPTIONS -fblocks)
target_link_libraries(metalnn_core PUBLIC "-framework Metal" "-framework Foundation" "-framework QuartzCore")
