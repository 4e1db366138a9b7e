import CLAPACK

/// Stage 1 of the two-stage reconstruction: choose each weight's rounding to minimize the layer's
/// output error tr(ΔW·H·ΔWᵀ) over the calibration inputs, the GPTQ way (Frantar et al. 2023, an
/// approximate OBQ): gradient-free, one pass over the columns.
///
/// Scales stay as given (per output channel, from `WeightQuantizer`'s MSE search); only the levels
/// move. Columns go in order: column i is rounded to its channel's grid (half to even, clamped to
/// ±qmax, exactly as `PerChannelWeightQuantization.quantize` rounds), and its error, divided by
/// V[i, i], is subtracted from the later columns along V[i, i+1…], where H⁻¹ = VᵀV (V upper). Within a
/// block of columns that update runs row by row over contiguous memory; the rest of the matrix
/// takes the whole block's errors at once, one dgemm (the "lazy batch" update).
///
/// H is dampened by λ·mean(diag H) (mean over inputs that were ever nonzero); an input that was
/// always zero (H_ii = 0) gets H_ii = 1 and weight 0 — it cannot affect the calibration outputs,
/// and the zero keeps its column from absorbing error. A Hessian LAPACK cannot factor after λ is
/// raised tenfold `retries` times leaves the layer at round-to-nearest, with the reason.
enum GPTQ {
    static let defaultDampening = 0.01
    static let defaultBlockSize = 128
    static let retries = 2

    /// Why a layer was left at round-to-nearest.
    enum Fallback: Sendable, Equatable, CustomStringConvertible {
        case nonFiniteHessian
        /// Every input was zero on every calibration row: nothing to reconstruct against.
        case noCalibrationSignal
        /// Not positive definite even at the last (largest) relative dampening tried.
        case notPositiveDefinite(dampening: Double, failure: InverseCholesky.Failure)

        var description: String {
            switch self {
            case .nonFiniteHessian: "Hessian has non-finite entries"
            case .noCalibrationSignal: "every input of the layer was zero during calibration"
            case .notPositiveDefinite(let dampening, let failure):
                "Hessian not positive definite at dampening \(dampening) (\(failure))"
            }
        }
    }

    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// Reconstructed at this relative dampening, with this many always-zero inputs zeroed.
        case reconstructed(dampening: Double, deadInputs: Int)
        case roundToNearest(Fallback)

        var description: String {
            switch self {
            case .reconstructed(let dampening, let dead):
                "GPTQ (dampening \(dampening)\(dead > 0 ? ", \(dead) dead inputs" : ""))"
            case .roundToNearest(let reason): "round-to-nearest: \(reason)"
            }
        }
    }

    struct Result: Sendable {
        let weights: QuantizedWeights
        let outcome: Outcome
    }

    /// - Parameters:
    ///   - weights: FP32 [outputChannels, hessian.columns] row-major (OIHW flattened, or [out, in]).
    ///   - quantization: the per-channel scales and bit width; levels land in ±`quantization.qmax`.
    ///   - dampening: λ as a fraction of H's mean diagonal.
    ///   - blockSize: columns per lazy update.
    static func quantize(weights: UnsafeBufferPointer<Float>, outputChannels: Int, hessian: LayerHessian,
                         quantization: PerChannelWeightQuantization, dampening: Double = defaultDampening,
                         blockSize: Int = defaultBlockSize) -> Result {
        let n = hessian.columns
        precondition(outputChannels == quantization.outputChannels, "\(outputChannels) channels, \(quantization.outputChannels) scales")
        precondition(weights.count == outputChannels * n, "\(weights.count) weights for \(outputChannels)×\(n)")
        precondition(dampening > 0 && dampening.isFinite && blockSize >= 1, "dampening \(dampening), block \(blockSize)")
        func fallback(_ reason: Fallback) -> Result {
            Result(weights: quantization.quantize(weights), outcome: .roundToNearest(reason))
        }
        guard hessian.values.allSatisfy(\.isFinite) else { return fallback(.nonFiniteHessian) }

        let diagonal = hessian.diagonal
        let dead = diagonal.indices.filter { diagonal[$0] == 0 }
        let live = diagonal.filter { $0 != 0 }
        guard !live.isEmpty else { return fallback(.noCalibrationSignal) }
        let meanDiagonal = live.reduce(0, +) / Double(live.count)

        var factor = [Double](repeating: 0, count: n * n)
        var lastFailure: (dampening: Double, failure: InverseCholesky.Failure)?
        for attempt in 0...retries {
            let relative = dampening * pow10(attempt)
            let failure = factor.withUnsafeMutableBufferPointer {
                factorInverse(hessian, dead: dead, lambda: relative * meanDiagonal, into: $0)
            }
            if let failure {
                lastFailure = (relative, failure)
                continue
            }
            let levels = reconstruct(weights: weights, outputChannels: outputChannels, columns: n, dead: dead,
                                     factor: factor, quantization: quantization, blockSize: blockSize)
            return Result(weights: QuantizedWeights(quantization: quantization, elementsPerChannel: n, levels: levels),
                          outcome: .reconstructed(dampening: relative, deadInputs: dead.count))
        }
        return fallback(.notPositiveDefinite(dampening: lastFailure!.dampening, failure: lastFailure!.failure))
    }

    /// V with (H + λI)⁻¹ = VᵀV, dead inputs' rows and columns replaced by the identity's.
    private static func factorInverse(_ hessian: LayerHessian, dead: [Int], lambda: Double,
                                      into v: UnsafeMutableBufferPointer<Double>) -> InverseCholesky.Failure? {
        let n = hessian.columns
        hessian.values.withUnsafeBufferPointer { h in
            // Upper triangles are all LAPACK reads.
            for i in 0..<n { (v.baseAddress! + i * n + i).update(from: h.baseAddress! + i * n + i, count: n - i) }
        }
        for i in dead {
            for j in i..<n { v[i * n + j] = 0 }
            for j in 0..<i { v[j * n + i] = 0 }
            v[i * n + i] = 1
        }
        for i in 0..<n { v[i * n + i] += lambda }
        do {
            try InverseCholesky.upperFactorOfInverse(v, order: n)
            return nil
        } catch {
            return error
        }
    }

    private static func pow10(_ k: Int) -> Double { (0..<k).reduce(1) { acc, _ in acc * 10 } }

    /// The column sweep over W (a Double copy, row-major) with V the upper factor of H⁻¹.
    private static func reconstruct(weights: UnsafeBufferPointer<Float>, outputChannels rows: Int, columns n: Int,
                                    dead: [Int], factor: [Double], quantization: PerChannelWeightQuantization,
                                    blockSize: Int) -> [Int8] {
        let w = UnsafeMutablePointer<Double>.allocate(capacity: rows * n)
        let block = min(blockSize, n)
        let e = UnsafeMutablePointer<Double>.allocate(capacity: rows * block)
        defer { w.deallocate(); e.deallocate() }
        for i in 0..<rows * n { w[i] = Double(weights[i]) }
        for i in dead { for r in 0..<rows { w[r * n + i] = 0 } }
        let parameters = (0..<rows).map { quantization.parameters(channel: $0) }
        let scales = quantization.scales
        return [Int8](unsafeUninitializedCapacity: rows * n) { levels, initialized in
            factor.withUnsafeBufferPointer { v in
                var start = 0
                while start < n {
                    let end = min(start + block, n), width = end - start
                    for i in start..<end {
                        let pivot = v[i * n + i]
                        let spread = UnsafeBufferPointer(rebasing: v[(i * n + i + 1)..<(i * n + end)])
                        for r in 0..<rows {
                            let row = w + r * n
                            let q = parameters[r].quantize(Float(row[i]))
                            levels[r * n + i] = Int8(truncatingIfNeeded: q)
                            // The error against the weight as deployed: level · scale in Float.
                            let error = (row[i] - Double(Float(q) * scales[r])) / pivot
                            e[r * width + (i - start)] = error
                            let rest = row + i + 1
                            for j in 0..<spread.count { rest[j] -= error * spread[j] }
                        }
                    }
                    if end < n {
                        // W[:, end…] −= E · V[start..<end, end…]
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(n - end), Int32(width),
                                    -1, e, Int32(width), v.baseAddress! + start * n + end, Int32(n), 1, w + end, Int32(n))
                    }
                    start = end
                }
            }
            initialized = rows * n
        }
    }
}
