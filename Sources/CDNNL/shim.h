#include <oneapi/dnnl/dnnl.h>
// oneDNN in Debian runs on OpenMP (libgomp); Swift's clang ships no omp.h, so declare the one call we need.
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);

