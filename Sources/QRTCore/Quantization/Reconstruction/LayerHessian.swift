import CLAPACK

/// H = Σ xᵀx over the input rows x a layer reduced over (im2col rows of a convolution, input rows
/// of a linear layer), in the order of the weights' columns: a layer's output error under a weight
/// change ΔW is Σ_x ||ΔW·x||² = tr(ΔW·H·ΔWᵀ), so H is all stage 1 needs of the calibration data.
///
/// Unnormalized (a sum, not a mean): `rows` says how many input rows went in, for per-row numbers.
struct LayerHessian: Sendable {
    /// The order of H: the weights' elements per output channel (inChannels·k·k, or inFeatures).
    let columns: Int
    /// Input rows accumulated (after subsampling).
    let rows: Int
    /// [columns, columns] row-major, symmetric.
    let values: [Double]

    init(columns: Int, rows: Int, values: [Double]) {
        precondition(columns > 0 && values.count == columns * columns, "\(values.count) values for order \(columns)")
        self.columns = columns
        self.rows = rows
        self.values = values
    }

    var diagonal: [Double] { (0..<columns).map { values[$0 * columns + $0] } }

    /// Σ over the accumulated rows of ||(W − Ŵ)·x||² = tr(ΔW·H·ΔWᵀ), both weight tensors
    /// [outputChannels, columns] row-major. In Double (a dsymm on OpenBLAS): after GPTQ the error
    /// sits mostly in H's flat directions, where a Float product would lose it to cancellation.
    func outputError(reference: UnsafeBufferPointer<Float>, quantized: UnsafeBufferPointer<Float>) -> Double {
        precondition(reference.count == quantized.count && reference.count % columns == 0,
                     "weights \(reference.count) and \(quantized.count) for \(columns) columns")
        let outputs = reference.count / columns
        var delta = [Double](unsafeUninitializedCapacity: reference.count) { buffer, initialized in
            for i in 0..<reference.count { buffer[i] = Double(reference[i]) - Double(quantized[i]) }
            initialized = reference.count
        }
        var product = [Double](repeating: 0, count: reference.count)
        let n = Int32(columns), m = Int32(outputs)
        values.withUnsafeBufferPointer { h in
            delta.withUnsafeMutableBufferPointer { d in
                product.withUnsafeMutableBufferPointer { p in
                    // P = ΔW·H (H symmetric, on the right).
                    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, m, n, 1, h.baseAddress!, n,
                                d.baseAddress!, n, 0, p.baseAddress!, n)
                }
            }
        }
        var total = 0.0
        for i in 0..<delta.count { total += delta[i] * product[i] }
        return total
    }

    func outputError(reference: [Float], quantized: QuantizedWeights) -> Double {
        precondition(quantized.elementsPerChannel == columns, "\(quantized.elementsPerChannel) columns, H has \(columns)")
        let dequantized = quantized.dequantized()
        return reference.withUnsafeBufferPointer { r in
            dequantized.withUnsafeBufferPointer { outputError(reference: r, quantized: $0) }
        }
    }

    /// `outputError` per output element: divided by rows · outputChannels (0 with no rows).
    func meanOutputError(reference: [Float], quantized: QuantizedWeights) -> Double {
        let outputs = quantized.quantization.outputChannels
        guard rows > 0 else { return 0 }
        return outputError(reference: reference, quantized: quantized) / Double(rows * outputs)
    }
}
