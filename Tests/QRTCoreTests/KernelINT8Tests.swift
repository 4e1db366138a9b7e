import Foundation
import Testing
@testable import QRTCore

/// Integer kernels against an exact integer reference: out = scale[c]·Σ(q − zp)·w + bias[c].
/// Padding must behave as the real value 0 (q = zp), as in the FP32 convolution of dequantized input.
struct KernelINT8Tests {
    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    private func signed(_ count: Int, seed: UInt64, limit: Int) -> [Int8] {
        bytes(count, seed: seed).map { Int8(Int($0) % (2 * limit + 1) - limit) }
    }

    @Test(arguments: [(kernel: 3, stride: 2, size: 9, zeroPoint: Int32(77)), (kernel: 1, stride: 1, size: 6, zeroPoint: 0),
                      (kernel: 3, stride: 1, size: 7, zeroPoint: 128), (kernel: 3, stride: 1, size: 7, zeroPoint: 0)])
    func convolutionMatchesIntegerReference(kernel: Int, stride: Int, size: Int, zeroPoint: Int32) throws {
        let (cin, cout) = (19, 21)
        let padding = (kernel - 1) / 2
        let weights = signed(cout * cin * kernel * kernel, seed: 1, limit: 127)
        let bias = (0..<cout).map { Float($0) * 0.25 - 2 }
        let weightScales = (0..<cout).map { 0.01 + Float($0) * 0.003 }
        // Codes up to what this CPU multiplies exactly (all of them with VNNI): clamping puts many
        // at the limit, the worst case for saturation.
        let limit = UInt8(IntegerDotProduct.largestExactCode(weights: weights, outputs: cout))
        let input = bytes(size * size * cin, seed: 2).map { min($0, limit) }
        let activation = QuantizationParameters(scale: 0.1, zeroPoint: min(zeroPoint, Int32(limit)), qmin: 0, qmax: 255)
        let zeroPoint = activation.zeroPoint
        let scales = weightScales.map { $0 * activation.scale }
        let conv = ConvolutionINT8(name: "test", weightsOIHW: weights, weightScales: weightScales, bias: bias,
                                   input: activation,
                                   geometry: ConvolutionGeometry(inChannels: cin, outChannels: cout, kernel: kernel,
                                                                 stride: stride, padding: padding), postOps: [])
        let out = conv.geometry.outputSize(height: size, width: size)
        var output = [Float](repeating: 0, count: out.height * out.width * cout)
        try conv.run(input, height: size, width: size, into: &output)

        var worst: Float = 0
        for oy in 0..<out.height {
            for ox in 0..<out.width {
                for o in 0..<cout {
                    var acc = 0
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            let (iy, ix) = (oy * stride + ky - padding, ox * stride + kx - padding)
                            guard iy >= 0, iy < size, ix >= 0, ix < size else { continue }
                            for i in 0..<cin {
                                acc += (Int(input[(iy * size + ix) * cin + i]) - Int(zeroPoint))
                                    * Int(weights[((o * cin + i) * kernel + ky) * kernel + kx])
                            }
                        }
                    }
                    let expected = scales[o] * Float(acc) + bias[o]
                    worst = max(worst, abs(output[(oy * out.width + ox) * cout + o] - expected) / max(1, abs(expected)))
                }
            }
        }
        #expect(worst < 1e-5)
    }

    @Test func linearMatchesIntegerReference() throws {
        let (rows, inFeatures, outFeatures) = (37, 64, 24)
        let weights = signed(outFeatures * inFeatures, seed: 3, limit: 127)
        let bias = (0..<outFeatures).map { Float($0) * -0.5 + 3 }
        let weightScales = (0..<outFeatures).map { 0.02 + Float($0) * 0.001 }
        let limit = UInt8(IntegerDotProduct.largestExactCode(weights: weights, outputs: outFeatures))
        let input = bytes(rows * inFeatures, seed: 4).map { min($0, limit) }
        let zeroPoint = min(Int32(131), Int32(limit))
        let activation = QuantizationParameters(scale: 0.1, zeroPoint: zeroPoint, qmin: 0, qmax: 255)
        let scales = weightScales.map { $0 * activation.scale }
        let linear = LinearINT8(name: "test", weights: weights, weightScales: weightScales, bias: bias, input: activation,
                                geometry: LinearGeometry(inFeatures: inFeatures, outFeatures: outFeatures), postOps: [.relu])
        var output = [Float](repeating: 0, count: rows * outFeatures)
        try linear.run(input, rows: rows, into: &output)
        var worst: Float = 0
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var acc = 0
                for i in 0..<inFeatures { acc += (Int(input[r * inFeatures + i]) - Int(zeroPoint)) * Int(weights[o * inFeatures + i]) }
                let expected = max(0, scales[o] * Float(acc) + bias[o])
                worst = max(worst, abs(output[r * outFeatures + o] - expected) / max(1, abs(expected)))
            }
        }
        #expect(worst < 1e-5)
    }
}
