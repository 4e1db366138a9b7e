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
    let inChannels: Int
    let outChannels: Int
    let kernel: Int
    let stride: Int
    let padding: Int
    let postOps: [PostOp]
    let input: QuantizationParameters
    private let weightsOIHW: [Int8]
    private let outputScales: [Float]
    /// oneDNN 2.x applies the output scale to (accumulator + bias): the bias is stored pre-divided.
    private let scaledBias: PackedBuffer

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
        let outHeight: Int, outWidth: Int
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weightsOIHW: [Int8], weightScales: [Float], bias: [Float], input: QuantizationParameters,
         inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, postOps: [PostOp]) {
        precondition(weightsOIHW.count == outChannels * inChannels * kernel * kernel, "\(name): weight size")
        precondition(weightScales.count == outChannels && bias.count == outChannels, "\(name): per-channel sizes")
        self.name = name
        self.weightsOIHW = weightsOIHW
        self.input = input
        outputScales = weightScales.map { $0 * input.scale }
        scaledBias = PackedBuffer(copying: zip(bias, outputScales).map { $1 == 0 ? 0 : $0 / $1 })
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.postOps = postOps
    }

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// - Parameters:
    ///   - quantized: [height, width, inChannels] u8, quantized with `input`.
    ///   - output: f32 [outHeight, outWidth, outChannels]; holds the residual when post-ops start with `.sum`.
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
        let (outHeight, outWidth) = outputSize(height: height, width: width)
        var srcMD = try DNNL.memoryDescriptor([1, inChannels, height, width], dnnl_u8, dnnl_nhwc)
        var anyWeights = try DNNL.memoryDescriptor([outChannels, inChannels, kernel, kernel], dnnl_s8, dnnl_format_tag_any)
        var biasMD = try DNNL.memoryDescriptor([outChannels], dnnl_f32, dnnl_a)
        var dstMD = try DNNL.memoryDescriptor([1, outChannels, outHeight, outWidth], dnnl_f32, dnnl_nhwc)
        var strides: [dnnl_dim_t] = [dnnl_dim_t(stride), dnnl_dim_t(stride)]
        var pads: [dnnl_dim_t] = [dnnl_dim_t(padding), dnnl_dim_t(padding)]
        var padsRight: [dnnl_dim_t] = [
            dnnl_dim_t((outHeight - 1) * stride + kernel - height - padding),
            dnnl_dim_t((outWidth - 1) * stride + kernel - width - padding),
        ]
        var desc = dnnl_convolution_desc_t()
        try DNNL.check(dnnl_convolution_forward_desc_init(
            &desc, dnnl_forward_inference, dnnl_convolution_direct, &srcMD, &anyWeights, &biasMD, &dstMD,
            &strides, &pads, &padsRight), "\(name): int8 convolution descriptor")
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        try DNNL.setQuantization(attr, outputScales: outputScales, channelMask: 1 << 1, zeroPoint: input.zeroPoint)
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, attr, DNNL.engine, nil), "\(name): int8 convolution")
        let primitive = try DNNLPrimitive(descriptor: pd!)
        let weightsMD = primitive.queryMemory(dnnl_query_weights_md)
        let plainWeights = try DNNL.memoryDescriptor([outChannels, inChannels, kernel, kernel], dnnl_s8, dnnl_oihw)
        let packed = try weightsOIHW.withUnsafeBytes {
            try DNNLPrimitive.reorder($0.baseAddress!, from: plainWeights, to: weightsMD)
        }
        let state = Prepared(
            primitive: primitive, packedWeights: packed,
            src: try DNNLMemory(srcMD, pointer: nil),
            weights: try DNNLMemory(weightsMD, pointer: packed.pointer),
            bias: try DNNLMemory(biasMD, pointer: scaledBias.pointer),
            dst: try DNNLMemory(dstMD, pointer: nil),
            outHeight: outHeight, outWidth: outWidth)
        prepared[key] = state
        return state
    }
}
