import Testing
@testable import QRTCore

/// The activation-level limit that keeps u8·s8 kernels exact on CPUs without VNNI.
struct IntegerDotProductTests {
    @Test func limitComesFromTheTwoLargestWeightsOfTheWorstChannel() {
        // Channel 0: 100 and 27 (pair 127); channel 1: 127 and −127 (pair 254).
        let weights: [Int8] = [100, -3, 27, 1, 127, 5, -127, 0]
        #expect(IntegerDotProduct.largestExactCode(weights: weights, outputs: 2, exact: false) == 32767 / 254)
        #expect(IntegerDotProduct.largestExactCode(weights: Array(weights[0..<4]), outputs: 1, exact: false) == 255)
        #expect(IntegerDotProduct.largestExactCode(weights: weights, outputs: 2, exact: true) == 255)
    }

    @Test func narrowingKeepsTheRepresentedRange() {
        let calibrated = QuantizationParameters.asymmetric(range: -1.5...6, bits: 8)
        let weights = [Int8](repeating: 127, count: 16)
        let narrowed = IntegerDotProduct.executable(calibrated, weights: weights, outputs: 2, exact: false)
        #expect(narrowed.qmax == 32767 / 254)
        #expect(abs(narrowed.representableRange.lowerBound - calibrated.representableRange.lowerBound) <= narrowed.scale / 2)
        #expect(abs(narrowed.representableRange.upperBound - calibrated.representableRange.upperBound) <= narrowed.scale / 2)
        #expect(IntegerDotProduct.executable(calibrated, weights: weights, outputs: 2, exact: true) == calibrated)
        let small = [Int8](repeating: 63, count: 16)
        #expect(IntegerDotProduct.executable(calibrated, weights: small, outputs: 2, exact: false) == calibrated)
    }

    /// The worst case on this CPU: every code at the limit, every weight at ±127 with one sign per
    /// channel, so every adjacent pair the kernel forms is as large as it can be.
    @Test func kernelsAreExactAtTheLimit() throws {
        let (rows, inFeatures, outFeatures) = (5, 64, 16)
        let weights = (0..<outFeatures * inFeatures).map { Int8($0 / inFeatures % 2 == 0 ? 127 : -127) }
        let limit = IntegerDotProduct.largestExactCode(weights: weights, outputs: outFeatures)
        let input = [UInt8](repeating: UInt8(limit), count: rows * inFeatures)
        let activation = QuantizationParameters(scale: 1, zeroPoint: 0, qmin: 0, qmax: 255)
        let linear = LinearINT8(name: "limit", weights: weights, weightScales: [Float](repeating: 1, count: outFeatures),
                                bias: [Float](repeating: 0, count: outFeatures), input: activation,
                                geometry: LinearGeometry(inFeatures: inFeatures, outFeatures: outFeatures), postOps: [])
        var output = [Float](repeating: 0, count: rows * outFeatures)
        try linear.run(input, rows: rows, into: &output)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                #expect(output[r * outFeatures + o] == Float((o % 2 == 0 ? 1 : -1) * Int(limit) * 127 * inFeatures))
            }
        }

        let (cin, cout) = (32, 8)
        let convWeights = (0..<cout * cin * 9).map { Int8($0 / (cin * 9) % 2 == 0 ? 127 : -127) }
        let convLimit = IntegerDotProduct.largestExactCode(weights: convWeights, outputs: cout)
        let conv = ConvolutionINT8(name: "limit", weightsOIHW: convWeights, weightScales: [Float](repeating: 1, count: cout),
                                   bias: [Float](repeating: 0, count: cout), input: activation,
                                   geometry: ConvolutionGeometry(inChannels: cin, outChannels: cout, kernel: 3, stride: 1,
                                                                 padding: 0),
                                   postOps: [])
        let image = [UInt8](repeating: UInt8(convLimit), count: 3 * 3 * cin)
        var pixel = [Float](repeating: 0, count: cout)
        try conv.run(image, height: 3, width: 3, into: &pixel)
        for o in 0..<cout {
            #expect(pixel[o] == Float((o % 2 == 0 ? 1 : -1) * Int(convLimit) * 127 * cin * 9))
        }
    }
}
