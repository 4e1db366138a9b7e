import CLAPACK

/// The upper Cholesky factor of a symmetric positive definite matrix's inverse, through LAPACK:
/// V upper with A⁻¹ = VᵀV. GPTQ walks V's rows: V[i, i] scales column i's rounding error and
/// V[i, j > i] spreads it over the later columns.
///
/// With J the order-reversing permutation, A' = J·A·J = L·Lᵀ (dpotrf) gives A⁻¹ = J·L⁻ᵀ·L⁻¹·J =
/// VᵀV for V = J·L⁻¹·J (dtrtri), upper with a positive diagonal — so V is the factor, for
/// 2n³/3 flops instead of the 4n³/3 of factor, invert (dpotri), factor again. J·M·J of a row-major
/// matrix is its flat buffer reversed, and a row-major lower triangle is LAPACK's column-major
/// upper one: no transposed copies.
///
/// Matrices are n×n row-major. Only the upper triangle of the input is read (a caller may fill
/// just that half); the result has its strictly lower triangle zeroed.
enum InverseCholesky {
    /// Which LAPACK step failed, with its info (for dpotrf: the order of the leading minor of the
    /// reversed matrix that is not positive definite).
    struct Failure: Error, Equatable, CustomStringConvertible {
        enum Step: String, Sendable { case factor = "dpotrf", inverse = "dtrtri" }
        let step: Step
        let info: Int32
        var description: String { "\(step.rawValue) failed with info \(info)" }
    }

    /// Overwrites `matrix` (n×n, row-major, upper triangle read) with V: A⁻¹ = VᵀV, V upper.
    static func upperFactorOfInverse(_ matrix: UnsafeMutableBufferPointer<Double>, order n: Int) throws(Failure) {
        precondition(n > 0 && matrix.count == n * n, "\(matrix.count) values for a \(n)×\(n) matrix")
        precondition(n <= Int(Int32.max), "matrix order \(n) exceeds LAPACK's 32-bit indices")
        let a = matrix.baseAddress!
        let order = Int32(n)  // lapack_int is a macro for int32_t
        let upper = CChar(UInt8(ascii: "U")), nonUnit = CChar(UInt8(ascii: "N"))
        var flat = matrix
        flat.reverse()  // A' = J·A·J; A's upper triangle is now A''s row-major lower one
        var info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, upper, order, a, order)
        guard info == 0 else { throw Failure(step: .factor, info: info) }
        info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, upper, nonUnit, order, a, order)
        guard info == 0 else { throw Failure(step: .inverse, info: info) }
        flat.reverse()  // V = J·L⁻¹·J
        for i in 1..<max(n, 1) {
            UnsafeMutableBufferPointer(start: a + i * n, count: i).update(repeating: 0)
        }
    }
}
