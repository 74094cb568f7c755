/* The C API used from C: load from file and from memory, query shapes and types, run TV9
 * (input code 10 -> output 17 at FL 4), reject a missing and a corrupted model with an error
 * string, and free. Exits non-zero with a message on the first failed check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f8net/rt/c_api.h"

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static unsigned char* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  long n;
  unsigned char* buf;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = (unsigned char*)malloc((size_t)n);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

int main(int argc, char** argv) {
  char path[4096];
  f8net_model* m = NULL;
  int32_t dims[3] = {0, 0, 0};
  int32_t fl[4] = {-1, -1, -1, -1};
  unsigned char input = 10;
  size_t size = 0;
  unsigned char* bytes;
  if (argc != 2) {
    fprintf(stderr, "usage: c-api-test MODEL_DIR\n");
    return 2;
  }
  snprintf(path, sizeof(path), "%s/tv9.f8", argv[1]);

  CHECK(f8net_model_load_file(path, 1, &m) == 0);
  if (m == NULL) {
    fprintf(stderr, "load failed: %s\n", f8net_last_error());
    return 1;
  }
  CHECK(f8net_input_shape(m, dims) == 0);
  CHECK(dims[0] == 1 && dims[1] == 1 && dims[2] == 1);
  CHECK(f8net_input_dtype(m) == F8NET_DTYPE_UINT8);
  CHECK(f8net_input_fl(m) == 8);
  CHECK(f8net_input_bytes(m) == 1);
  CHECK(f8net_output_shape(m, dims) == 0);
  CHECK(dims[0] == 1 && dims[1] == 1 && dims[2] == 1);
  /* No output before a run (it would be unwritten memory). */
  CHECK(f8net_output_data(m) == NULL);
  CHECK(strstr(f8net_last_error(), "no output yet") != NULL);
  /* A null input is reported as such, not as a size mismatch with equal sizes. */
  CHECK(f8net_run(m, NULL, 1) == -1);
  CHECK(strstr(f8net_last_error(), "null input") != NULL);
  CHECK(f8net_run(m, &input, 1) == 0);
  CHECK(strcmp(f8net_last_error(), "") == 0); /* no stale message after a success */
  CHECK(f8net_output_data(m) != NULL && f8net_output_data(m)[0] == 17);
  CHECK(f8net_output_fl(m, fl, 4) == 1);
  CHECK(fl[0] == 4);
  CHECK(f8net_run(m, &input, 2) == -1); /* wrong input size */
  CHECK(strstr(f8net_last_error(), "expected 1 bytes") != NULL);
  CHECK(f8net_output_data(m) == NULL); /* the failed run invalidated the output */
  f8net_model_free(m);
  m = NULL;

  /* From memory: the same bytes, then a corrupted copy. */
  bytes = read_all(path, &size);
  CHECK(bytes != NULL && size > 128);
  if (bytes) {
    CHECK(f8net_model_load_memory(bytes, size, 2, &m) == 0);
    CHECK(m != NULL && f8net_run(m, &input, 1) == 0 && f8net_output_data(m)[0] == 17);
    f8net_model_free(m);
    m = NULL;
    bytes[size - 1] ^= 0x40;
    CHECK(f8net_model_load_memory(bytes, size, 1, &m) == -1);
    CHECK(m == NULL);
    CHECK(strstr(f8net_last_error(), "checksum") != NULL);
    CHECK(f8net_model_load_memory(bytes, 100, 1, &m) == -1);
    free(bytes);
  }

  /* A bigger model: 3-channel 12x12 input, 10 logits. */
  snprintf(path, sizeof(path), "%s/random-cnn.f8", argv[1]);
  CHECK(f8net_model_load_file(path, 0, &m) == 0);
  if (m) {
    unsigned char img[3 * 12 * 12];
    memset(img, 128, sizeof(img));
    CHECK(f8net_output_shape(m, dims) == 0 && dims[0] == 10);
    CHECK(f8net_run(m, img, sizeof(img)) == 0);
    CHECK(f8net_output_fl(m, fl, 2) == 10);
    {
      /* A batch of 5 different images equals 5 single runs, image by image. */
      static unsigned char batch[5][3 * 12 * 12];
      int32_t logits[5][10], single[10];
      int i, k, same = 1;
      for (i = 0; i < 5; ++i) {
        for (k = 0; k < 3 * 12 * 12; ++k) batch[i][k] = (unsigned char)(i * 60 + (k % 7) * (i + 1));
      }
      CHECK(f8net_run_batch(m, batch, 5, &logits[0][0]) == 0);
      for (i = 0; i < 5; ++i) {
        CHECK(f8net_run(m, batch[i], sizeof(batch[i])) == 0);
        memcpy(single, f8net_output_data(m), sizeof(single));
        for (k = 0; k < 10; ++k) same &= single[k] == logits[i][k];
      }
      CHECK(same);
      CHECK(f8net_run_batch(m, NULL, 2, &logits[0][0]) == -1);
      CHECK(f8net_run_batch(NULL, batch, 1, &logits[0][0]) == -1);
    }
    f8net_model_free(m);
    m = NULL;
  }

  CHECK(f8net_model_load_file("/nonexistent/model.f8", 1, &m) == -1);
  CHECK(strstr(f8net_last_error(), "cannot open") != NULL);
  CHECK(f8net_model_load_file(NULL, 1, &m) == -1);
  CHECK(f8net_input_dtype(NULL) == -1);
  f8net_model_free(NULL);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c-api-test: all checks passed\n");
  return 0;
}
