import Testing
@testable import QRTCore

/// The frame-path activation quantizer against `QuantizationParameters.quantize`, bit for bit,
/// including exact half-way values, both clamps and odd zero points.
struct KernelQuantizerTests {
    @Test(arguments: [(scale: Float(0.05), zeroPoint: Int32(0), qmax: Int32(255)),
                      (scale: 0.1, zeroPoint: 37, qmax: 255), (scale: 0.25, zeroPoint: 7, qmax: 15)])
    func matchesScalarReference(scale: Float, zeroPoint: Int32, qmax: Int32) {
        let parameters = QuantizationParameters(scale: scale, zeroPoint: zeroPoint, qmin: 0, qmax: qmax)
        var values: [Float] = (-2000...2000).map { Float($0) * scale / 8 }   // includes exact ties k + ½
        values += [-1e9, 1e9, 0, -0.0, Float(qmax) * scale * 4]
        var codes = [UInt8](repeating: 0, count: values.count)
        ActivationQuantizer.quantize(values, count: values.count, with: parameters, into: &codes)
        for (value, code) in zip(values, codes) {
            #expect(Int32(code) == parameters.quantize(value), "\(value)")
        }
    }
}
