// LAPACK (LAPACKE's C interface, Debian's liblapacke-dev) and CBLAS for the Hessian-based weight
// reconstruction. Debian's liblapack.so.3 and libblas.so.3 resolve to OpenBLAS through the
// alternatives system; CBLAS comes from libopenblas (libopenblas-dev) directly.
#include <lapacke.h>
#include <cblas.h>
