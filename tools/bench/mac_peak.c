// Peak multiply-accumulate rates of one core: FP32 FMA vs u8*s8 through vpmaddubsw, the instruction
// integer kernels use on x86 CPUs without VNNI (AVX2; oneDNN's jit_uni_int8:avx2, ONNX Runtime's MLAS).
// Eight independent accumulator chains, registers only: the roof no convolution kernel can pass.
//
//     gcc -O2 -mavx2 -mfma tools/bench/mac_peak.c -o /tmp/mac_peak && /tmp/mac_peak
//
// tools/bench/roofline.py divides a model's multiply-accumulates by these rates.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
int main(void) {
    const long iters = 100000000;
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define FD(i) __m256 f##i = _mm256_set1_ps(1.0f + i);
    R8(FD)
    double t0 = now();
    for (long n = 0; n < iters; n++) {
#define FM(i) f##i = _mm256_fmadd_ps(f##i, a, b);
        R8(FM)
        __asm__ volatile("" : "+x"(f0), "+x"(f1), "+x"(f2), "+x"(f3), "+x"(f4), "+x"(f5), "+x"(f6), "+x"(f7));
    }
    double fp = iters * 8.0 * 8 / (now() - t0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(f0, f1), _mm256_add_ps(f2, f3)), _mm256_add_ps(_mm256_add_ps(f4, f5), _mm256_add_ps(f6, f7)));
    __m256i ones = _mm256_set1_epi16(1);
#define ID(i) __m256i acc##i = _mm256_setzero_si256(); __m256i u##i = _mm256_set1_epi8(3 + i); __m256i w##i = _mm256_set1_epi8(-2 - i);
    R8(ID)
    t0 = now();
    for (long n = 0; n < iters; n++) {
#define IM(i) acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(_mm256_maddubs_epi16(u##i, w##i), ones));
        R8(IM)
        __asm__ volatile("" : "+x"(u0), "+x"(u1), "+x"(u2), "+x"(u3), "+x"(u4), "+x"(u5), "+x"(u6), "+x"(u7));
    }
    double i8 = iters * 8.0 * 32 / (now() - t0);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(acc0, acc1), _mm256_add_epi32(acc2, acc3));
    r = _mm256_add_epi32(r, _mm256_add_epi32(_mm256_add_epi32(acc4, acc5), _mm256_add_epi32(acc6, acc7)));
    printf("one core: FP32 FMA %.1f GMAC/s, u8*s8 via vpmaddubsw+vpmaddwd+vpaddd %.1f GMAC/s, ratio %.2f  [%g %d]\n",
           fp / 1e9, i8 / 1e9, i8 / fp, _mm256_cvtss_f32(s), _mm256_extract_epi32(r, 0));
    return 0;
}
