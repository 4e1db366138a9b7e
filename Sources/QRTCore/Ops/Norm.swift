/// Normalizations over the last dimension of a [rows, columns] matrix.
enum Norm {
    typealias V = VectorMath.V

    /// LayerNorm as `torch.nn.functional.layer_norm` over the last dim: y = (x − mean) / √(var + eps)
    /// · gamma + beta, with the biased variance. Two passes (mean, then Σ(x − mean)² with the mean
    /// corrected by Σ(x − mean)) over 16-lane partial sums, so a large common offset costs no more
    /// precision than the inputs' own rounding. `output` may equal `input`. Against float64 statistics
    /// of the same inputs the error is ≤ 1e-5 relative (+2e-6 absolute), even for |mean| = 4000·σ.
    static func layerNorm(_ input: UnsafePointer<Float>, rows: Int, columns: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
                          into output: UnsafeMutablePointer<Float>) {
        precondition(columns > 0, "layerNorm over an empty dimension")
        let vectorEnd = columns & ~15
        let inverseCount = 1 / Float(columns)
        for row in 0..<rows {
            let x = input + row * columns
            let y = output + row * columns

            var sum = V()
            var i = 0
            while i < vectorEnd { sum += VectorMath.load(x + i); i += 16 }
            var total = sum.sum()
            while i < columns { total += x[i]; i += 1 }
            let mean = total * inverseCount

            // Second pass around the first-pass mean; Σd corrects that mean's rounding error
            // (the corrected two-pass algorithm of Chan, Golub and LeVeque).
            var deviations = V(), squares = V()
            let firstMean = V(repeating: mean)
            i = 0
            while i < vectorEnd {
                let d = VectorMath.load(x + i) - firstMean
                deviations += d
                squares = squares.addingProduct(d, d)
                i += 16
            }
            var deviationTotal = deviations.sum(), squareTotal = squares.sum()
            while i < columns {
                let d = x[i] - mean
                deviationTotal += d
                squareTotal += d * d
                i += 1
            }
            let correction = deviationTotal * inverseCount
            let variance = max(squareTotal * inverseCount - correction * correction, 0)
            let rstd = 1 / (variance + epsilon).squareRoot()

            // x − mean as (x − firstMean) − correction: the first difference is exact for x near the
            // mean, so rows with |mean| ≫ deviation keep their precision.
            let correctionV = V(repeating: correction), rstdV = V(repeating: rstd)
            i = 0
            while i < vectorEnd {
                let normalized = (VectorMath.load(x + i) - firstMean - correctionV) * rstdV
                VectorMath.store(VectorMath.load(beta + i).addingProduct(normalized, VectorMath.load(gamma + i)), y + i)
                i += 16
            }
            while i < columns {
                y[i] = beta[i].addingProduct((x[i] - mean - correction) * rstd, gamma[i])
                i += 1
            }
        }
    }

    /// In-place LayerNorm over the last dim of [rows, columns].
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float) {
        layerNorm(UnsafePointer(x), rows: rows, columns: columns, gamma: gamma, beta: beta, epsilon: epsilon, into: x)
    }
}
