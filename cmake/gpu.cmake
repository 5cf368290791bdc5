# The GPU devices (cpp/gpu/): op lowering, pipeline cache and executable shared by `metal-sim`
# (everywhere) and `metal` (Apple only, cmake/metal.cmake), compiled into metalnn_core.
get_filename_component(METALNN_ROOT_DIR ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
file(GLOB METALNN_GPU_SOURCES CONFIGURE_DEPENDS ${METALNN_ROOT_DIR}/cpp/gpu/*.cpp ${METALNN_ROOT_DIR}/cpp/gpu/ops/*.cpp)
target_sources(metalnn_core PRIVATE ${METALNN_GPU_SOURCES})
target_include_directories(metalnn_core PRIVATE ${METALNN_ROOT_DIR}/metal)  # params.h
target_link_libraries(metalnn_core PUBLIC metalnn_sim)
if(APPLE)
  include(${CMAKE_CURRENT_LIST_DIR}/metal.cmake)
endif()
