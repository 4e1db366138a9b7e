#if canImport(Glibc)
import Glibc
#endif

/// The fixed 2D sin-cos position embedding of the AIFI encoder layer.
enum PositionEmbedding {
    /// transformers' `build_2d_sinusoidal_position_embedding(height, width, embed_dim, temperature)`
    /// (called by `RTDetrSinePositionEmbedding(width:height:)`), as [height·width, embedDim] row-major.
    /// Token t = y·width + x (the order of `flatten(2)` on an NCHW map) holds, with d = embedDim / 4
    /// and ωᵢ = temperature^(−i/d):
    ///     [ sin(y·ω₀…) | cos(y·ω₀…) | sin(x·ω₀…) | cos(x·ω₀…) ]   (each block d wide).
    /// Computed in float64 and rounded to float32, as transformers does. (transformers 4.x wrote
    /// `build_2d_sincos_position_embedding(width, height, …)` with a W-outer grid and the blocks as
    /// [w | w | h | h]: identical for square maps, transposed for others; the 5.x order is used here.)
    static func sinCos2D(width: Int, height: Int, embedDim: Int, temperature: Double = 10_000,
                         into output: UnsafeMutablePointer<Float>) {
        precondition(embedDim % 4 == 0, "embedDim \(embedDim) must be divisible by 4")
        let quarter = embedDim / 4
        for y in 0..<height {
            for x in 0..<width {
                let row = output + (y * width + x) * embedDim
                for i in 0..<quarter {
                    let omega = 1.0 / pow(temperature, Double(i) / Double(quarter))
                    let hy = Double(y) * omega, wx = Double(x) * omega
                    row[i] = Float(sin(hy))
                    row[quarter + i] = Float(cos(hy))
                    row[2 * quarter + i] = Float(sin(wx))
                    row[3 * quarter + i] = Float(cos(wx))
                }
            }
        }
    }

    /// `sinCos2D(into:)` as a new array; computed once per input size.
    static func sinCos2D(width: Int, height: Int, embedDim: Int, temperature: Double = 10_000) -> [Float] {
        [Float](unsafeUninitializedCapacity: width * height * embedDim) { buffer, initialized in
            sinCos2D(width: width, height: height, embedDim: embedDim, temperature: temperature,
                     into: buffer.baseAddress!)
            initialized = width * height * embedDim
        }
    }
}
