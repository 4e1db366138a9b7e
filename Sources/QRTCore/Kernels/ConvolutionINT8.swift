import CDNNL

/// A 2-D convolution in integer arithmetic on oneDNN: u8 NHWC activations with a zero point,
/// s8 per-output-channel weights, s32 accumulation, f32 output with bias and fused post-ops:
/// out[c] = inputScale · weightScale[c] · Σ (q − zeroPoint) · w + bias[c].
///
/// The quantization parameters are fixed per instance (oneDNN 2.6 convolutions take no runtime
/// output scales); requantizing a layer means creating a new instance, which leaves the model
/// and the other layers untouched.
final class ConvolutionINT8 {
    let name: String
    let geometry: ConvolutionGeometry
    let postOps: [PostOp]
    let input: QuantizationParameters
    private let weightsOIHW: [Int8]
    private let integerOutput: IntegerOutput

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weightsOIHW: [Int8], weightScales: [Float], bias: [Float], input: QuantizationParameters,
         geometry: ConvolutionGeometry, postOps: [PostOp]) {
        let (cin, cout, k) = (geometry.inChannels, geometry.outChannels, geometry.kernel)
        precondition(weightsOIHW.count == cout * cin * k * k, "\(name): weight size")
        precondition(weightScales.count == cout && bias.count == cout, "\(name): per-channel sizes")
        self.name = name
        self.weightsOIHW = weightsOIHW
        self.input = input
        self.geometry = geometry
        integerOutput = IntegerOutput(weightScales: weightScales, bias: bias, input: input)
        self.postOps = postOps
    }

    /// - Parameters:
    ///   - quantized: [height, width, inChannels] u8, quantized with `input`.
    ///   - output: f32 [outHeight, outWidth, outChannels]; holds the residual when post-ops have a `.sum`.
    func run(_ quantized: UnsafePointer<UInt8>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(height: height, width: width)
        state.src.point(at: UnsafeMutableRawPointer(mutating: quantized))
        state.dst.point(at: UnsafeMutableRawPointer(output))
        try state.primitive.execute([
            (DNNL_ARG_SRC, state.src.handle), (DNNL_ARG_WEIGHTS, state.weights.handle),
            (DNNL_ARG_BIAS, state.bias.handle), (DNNL_ARG_DST, state.dst.handle),
        ])
    }

    private func prepare(height: Int, width: Int) throws -> Prepared {
        let key = height << 32 | width
        if let state = prepared[key] { return state }
        let desc = try geometry.descriptor(height: height, width: width, source: dnnl_u8, weights: dnnl_s8, layout: dnnl_nhwc,
                                           algorithm: dnnl_convolution_direct, name: name)
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        try DNNL.setQuantization(attr, integerOutput)
        let primitive = try DNNLPrimitive.create(desc, attributes: attr, name: "\(name): int8 convolution")
        let (k, cin, cout) = (geometry.kernel, geometry.inChannels, geometry.outChannels)
        let packed = try primitive.packWeights(weightsOIHW, plain: try DNNL.memoryDescriptor([cout, cin, k, k], dnnl_s8, dnnl_oihw))
        let state = Prepared(
            primitive: primitive, packedWeights: packed.buffer,
            src: try DNNLMemory(primitive.queryMemory(dnnl_query_src_md), pointer: nil), weights: packed.memory,
            bias: try DNNLMemory(try DNNL.memoryDescriptor([cout], dnnl_f32, dnnl_a), pointer: integerOutput.scaledBias.pointer),
            dst: try DNNLMemory(primitive.queryMemory(dnnl_query_dst_md), pointer: nil))
        prepared[key] = state
        return state
    }
}
