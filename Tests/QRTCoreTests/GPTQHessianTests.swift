import Foundation
import Testing
@testable import QRTCore

/// SplitMix64 with Box–Muller normals: deterministic data for the reconstruction tests.
struct GPTQTestRandom {
    private var base: SplitMix64
    init(seed: UInt64) { base = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func normal() -> Double {
        sqrt(-2 * log(uniform())) * cos(2 * Double.pi * uniform())
    }

    mutating func normals(_ count: Int, scale: Double = 1) -> [Float] {
        (0..<count).map { _ in Float(normal() * scale) }
    }
}

/// The im2col Hessian the slow way: every kept output position's receptive field in OIHW order
/// (c·k + ky)·k + kx, zero padding, outer products summed in Double.
private func bruteForceConvolutionHessian(_ inputs: [(values: [Float], height: Int, width: Int)], channels: Int,
                                          kernel k: Int, stride: Int, padding: Int, subsample: Int) -> (h: [Double], rows: Int) {
    let n = channels * k * k
    var h = [Double](repeating: 0, count: n * n)
    var rows = 0
    for (t, input) in inputs.enumerated() {
        let outHeight = (input.height + 2 * padding - k) / stride + 1
        let outWidth = (input.width + 2 * padding - k) / stride + 1
        for oy in 0..<outHeight {
            for ox in 0..<outWidth where (oy + ox + t) % subsample == 0 {
                var x = [Double](repeating: 0, count: n)
                for c in 0..<channels {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let y = oy * stride - padding + ky, xx = ox * stride - padding + kx
                            guard y >= 0, y < input.height, xx >= 0, xx < input.width else { continue }
                            x[(c * k + ky) * k + kx] = Double(input.values[(y * input.width + xx) * channels + c])
                        }
                    }
                }
                for a in 0..<n { for b in 0..<n { h[a * n + b] += x[a] * x[b] } }
                rows += 1
            }
        }
    }
    return (h, rows)
}

private func expectClose(_ actual: [Double], _ expected: [Double], relative: Double) {
    #expect(actual.count == expected.count)
    let scale = expected.map(\.magnitude).max() ?? 1
    let worst = zip(actual, expected).map { ($0 - $1).magnitude }.max() ?? 0
    #expect(worst <= relative * scale, "worst |ΔH| \(worst) against max |H| \(scale)")
}

@Suite struct GPTQHessianTests {
    struct ConvolutionCase: CustomTestStringConvertible, Sendable {
        let channels, kernel, stride, padding, subsample: Int
        let blockRows: Int?
        var testDescription: String {
            "C\(channels) k\(kernel) s\(stride) p\(padding) every \(subsample), block \(blockRows.map(String.init) ?? "auto")"
        }
    }

    /// Two inputs of different sizes: rows carry across buffers and blocks, and the subsample
    /// lattice shifts from one buffer to the next.
    @Test(arguments: [
        ConvolutionCase(channels: 3, kernel: 3, stride: 2, padding: 1, subsample: 1, blockRows: nil),
        ConvolutionCase(channels: 3, kernel: 3, stride: 2, padding: 1, subsample: 1, blockRows: 7),
        ConvolutionCase(channels: 3, kernel: 3, stride: 2, padding: 1, subsample: 3, blockRows: 5),
        ConvolutionCase(channels: 2, kernel: 3, stride: 1, padding: 0, subsample: 2, blockRows: 4),
        ConvolutionCase(channels: 4, kernel: 1, stride: 1, padding: 0, subsample: 1, blockRows: 16),
        ConvolutionCase(channels: 2, kernel: 5, stride: 2, padding: 2, subsample: 1, blockRows: nil),
    ])
    func convolutionHessianMatchesBruteForce(_ test: ConvolutionCase) throws {
        var random = GPTQTestRandom(seed: 7)
        let sizes = [(7, 9), (6, 5)]
        let inputs = sizes.map { (values: random.normals($0.0 * $0.1 * test.channels), height: $0.0, width: $0.1) }
        let accumulator = HessianAccumulator(
            geometry: .convolution(inChannels: test.channels, kernel: test.kernel, stride: test.stride, padding: test.padding),
            subsample: test.subsample, blockRows: test.blockRows)
        for input in inputs {
            try input.values.withUnsafeBufferPointer { try accumulator.accumulate($0, height: input.height, width: input.width) }
        }
        let hessian = try accumulator.hessian()
        let expected = bruteForceConvolutionHessian(inputs, channels: test.channels, kernel: test.kernel,
                                                    stride: test.stride, padding: test.padding, subsample: test.subsample)
        #expect(hessian.columns == test.channels * test.kernel * test.kernel)
        #expect(hessian.rows == expected.rows)
        expectClose(hessian.values, expected.h, relative: 1e-5)
    }

    @Test func linearHessianMatchesBruteForce() throws {
        var random = GPTQTestRandom(seed: 11)
        let features = 6
        let buffers = [random.normals(50 * features), random.normals(13 * features)]
        let accumulator = HessianAccumulator(geometry: .linear(features: features), subsample: 2, blockRows: 9)
        for (t, buffer) in buffers.enumerated() {
            let tensor = Tensor(shape: [buffer.count / features, features], values: buffer)
            try accumulator.accumulate(tensor)
            if t == 0 { _ = try accumulator.hessian() }  // a snapshot mid-way changes nothing
        }
        var expected = [Double](repeating: 0, count: features * features)
        var rows = 0
        for (t, buffer) in buffers.enumerated() {
            for r in 0..<buffer.count / features where (r + t) % 2 == 0 {
                let x = buffer[r * features..<(r + 1) * features].map(Double.init)
                for a in 0..<features { for b in 0..<features { expected[a * features + b] += x[a] * x[b] } }
                rows += 1
            }
        }
        let hessian = try accumulator.hessian()
        #expect(hessian.rows == rows)
        expectClose(hessian.values, expected, relative: 1e-5)
    }

    @Test func badInputsThrow() throws {
        let conv = HessianAccumulator(geometry: .convolution(inChannels: 2, kernel: 3, stride: 1, padding: 0))
        let values = [Float](repeating: 1, count: 2 * 2 * 2)
        values.withUnsafeBufferPointer { buffer in
            #expect(throws: HessianAccumulator.InputError.count(expected: 18, found: 8)) {
                try conv.accumulate(buffer, height: 3, width: 3)
            }
            #expect(throws: HessianAccumulator.InputError.self) { try conv.accumulate(buffer, height: 2, width: 2) }
            #expect(throws: HessianAccumulator.InputError.self) { try conv.accumulate(buffer, shape: [2, 2, 2, 1]) }
        }
        let linear = HessianAccumulator(geometry: .linear(features: 3))
        #expect(throws: HessianAccumulator.InputError.self) { try linear.accumulate(Tensor(shape: [4, 2])) }
        #expect(try linear.hessian().rows == 0)
    }

    @Test func inverseCholeskyFactorsTheInverse() throws {
        var random = GPTQTestRandom(seed: 3)
        let n = 20
        let b = (0..<n * n).map { _ in random.normal() }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += b[k * n + i] * b[k * n + j] } } }
        for i in 0..<n { a[i * n + i] += 1 }
        var v = a
        // Garbage below the diagonal must be ignored.
        for i in 0..<n { for j in 0..<i { v[i * n + j] = .nan } }
        try v.withUnsafeMutableBufferPointer { try InverseCholesky.upperFactorOfInverse($0, order: n) }
        for i in 0..<n { for j in 0..<i { #expect(v[i * n + j] == 0) } }
        // (VᵀV)·A = I
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var inverse = [Double](repeating: 0, count: n)
                for k in 0..<n { inverse[k] = (0...min(i, k)).reduce(0) { $0 + v[$1 * n + i] * v[$1 * n + k] } }
                let entry = (0..<n).reduce(0) { $0 + inverse[$1] * a[$1 * n + j] }
                worst = max(worst, (entry - (i == j ? 1 : 0)).magnitude)
            }
        }
        #expect(worst < 1e-9)
        var singular = [Double](repeating: 1, count: 4)
        #expect(throws: InverseCholesky.Failure(step: .factor, info: 2)) {
            try singular.withUnsafeMutableBufferPointer { try InverseCholesky.upperFactorOfInverse($0, order: 2) }
        }
    }
}
