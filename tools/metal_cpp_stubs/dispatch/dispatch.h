// Stand-in for the libdispatch declarations metal-cpp and the adapter use, with the C++ object
// model libdispatch has outside Objective-C (every object type derives from dispatch_object_s).
#pragma once
#include <stddef.h>

struct dispatch_object_s {
 private:
  dispatch_object_s();
  ~dispatch_object_s();
  dispatch_object_s(const dispatch_object_s&);
  void operator=(const dispatch_object_s&);
};
typedef dispatch_object_s* dispatch_object_t;
typedef struct dispatch_queue_s : public dispatch_object_s {}* dispatch_queue_t;
typedef struct dispatch_data_s : public dispatch_object_s {}* dispatch_data_t;
typedef void (^dispatch_block_t)(void);

#define DISPATCH_DATA_DESTRUCTOR_DEFAULT nullptr

extern "C" {
dispatch_data_t dispatch_data_create(const void* buffer, size_t size, dispatch_queue_t queue,
                                     dispatch_block_t destructor);
void dispatch_release(dispatch_object_t object);
}
