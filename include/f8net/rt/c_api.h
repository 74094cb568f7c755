/* The C API of the f8net runtime: load a .f8 model (file or memory), query shapes, run one image,
 * read the int32 logits and their per-channel FLs (value = logit * 2^-FL). Every function returning
 * int gives 0 on success and -1 on failure; f8net_last_error() then describes the failure (per
 * thread). f8net_run() allocates nothing. Handles are not shared between threads while running. */
#ifndef F8NET_RT_C_API_H_
#define F8NET_RT_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct f8net_model f8net_model;

/* Element types, numbered as in the .f8 format. */
enum { F8NET_DTYPE_UINT8 = 1, F8NET_DTYPE_INT8 = 2, F8NET_DTYPE_INT32 = 3 };

/* num_threads 0 = the machine's hardware threads. On success *out owns a prepared model. */
int f8net_model_load_file(const char* path, int num_threads, f8net_model** out);
int f8net_model_load_memory(const void* data, size_t size, int num_threads, f8net_model** out);
void f8net_model_free(f8net_model* model); /* accepts NULL */

/* Shapes are [C, H, W]. */
int f8net_input_shape(const f8net_model* model, int32_t dims[3]);
int f8net_input_dtype(const f8net_model* model);    /* F8NET_DTYPE_*, or -1 */
int f8net_input_fl(const f8net_model* model);       /* or -1 */
size_t f8net_input_bytes(const f8net_model* model); /* or 0 */
int f8net_output_shape(const f8net_model* model, int32_t dims[3]);

/* Copies `size` bytes of input codes (must equal f8net_input_bytes) and runs the model. */
int f8net_run(f8net_model* model, const void* input, size_t size);

/* Runs n images: `inputs` holds n * f8net_input_bytes codes (image after image); `outputs`
 * receives n * C*H*W int32 logits (output shape) in the same order. Allocates nothing. */
int f8net_run_batch(f8net_model* model, const void* inputs, size_t n, int32_t* outputs);

/* After a successful f8net_run: C*H*W int32 values, owned by the model, valid until the next run
 * or free. NULL (with f8net_last_error set) before any successful run, after a failed run, and
 * after f8net_run_batch (which writes its own output array). */
const int32_t* f8net_output_data(const f8net_model* model);
/* Copies min(n, C) per-channel output FLs into fl; returns the channel count or -1. */
int f8net_output_fl(const f8net_model* model, int32_t* fl, size_t n);

/* The last error of this thread; "" when none, and cleared by every successful run. */
const char* f8net_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* F8NET_RT_C_API_H_ */
