import CDNNL

/// y = x·Wᵀ + b in integer arithmetic on oneDNN's matmul: u8 rows with a zero point, s8
/// per-output-feature weights, s32 accumulation, f32 output. Parameters are fixed per instance,
/// as in `ConvolutionINT8`.
final class LinearINT8 {
    let name: String
    let inFeatures: Int
    let outFeatures: Int
    let postOps: [PostOp]
    let input: QuantizationParameters
    private let weights: [Int8]
    private let outputScales: [Float]
    private let scaledBias: PackedBuffer

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weights: [Int8], weightScales: [Float], bias: [Float], input: QuantizationParameters,
         inFeatures: Int, outFeatures: Int, postOps: [PostOp]) {
        precondition(weights.count == inFeatures * outFeatures, "\(name): weight size")
        precondition(weightScales.count == outFeatures && bias.count == outFeatures, "\(name): per-feature sizes")
        self.name = name
        self.weights = weights
        self.input = input
        outputScales = weightScales.map { $0 * input.scale }
        scaledBias = PackedBuffer(copying: zip(bias, outputScales).map { $1 == 0 ? 0 : $0 / $1 })
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.postOps = postOps
    }

    /// `output` must already hold the residual when `postOps` starts with `.sum`.
    func run(_ quantized: UnsafePointer<UInt8>, rows: Int, into output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(rows: rows)
        state.src.point(at: UnsafeMutableRawPointer(mutating: quantized))
        state.dst.point(at: UnsafeMutableRawPointer(output))
        try state.primitive.execute([
            (DNNL_ARG_SRC, state.src.handle), (DNNL_ARG_WEIGHTS, state.weights.handle),
            (DNNL_ARG_BIAS, state.bias.handle), (DNNL_ARG_DST, state.dst.handle),
        ])
    }

    private func prepare(rows: Int) throws -> Prepared {
        if let state = prepared[rows] { return state }
        var srcMD = try DNNL.memoryDescriptor([rows, inFeatures], dnnl_u8, dnnl_ab)
        var anyWeights = try DNNL.memoryDescriptor([inFeatures, outFeatures], dnnl_s8, dnnl_format_tag_any)
        var biasMD = try DNNL.memoryDescriptor([1, outFeatures], dnnl_f32, dnnl_ab)
        var dstMD = try DNNL.memoryDescriptor([rows, outFeatures], dnnl_f32, dnnl_ab)
        var desc = dnnl_matmul_desc_t()
        try DNNL.check(dnnl_matmul_desc_init(&desc, &srcMD, &anyWeights, &biasMD, &dstMD), "\(name): int8 matmul descriptor")
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        try DNNL.setQuantization(attr, outputScales: outputScales, channelMask: 1 << 1, zeroPoint: input.zeroPoint)
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_primitive_desc_create(&pd, &desc, attr, DNNL.engine, nil), "\(name): int8 matmul")
        let primitive = try DNNLPrimitive(descriptor: pd!)
        let weightsMD = primitive.queryMemory(dnnl_query_weights_md)
        let plainWeights = try DNNL.memoryDescriptor([inFeatures, outFeatures], dnnl_s8, dnnl_ba)
        let packed = try weights.withUnsafeBytes {
            try DNNLPrimitive.reorder($0.baseAddress!, from: plainWeights, to: weightsMD)
        }
        let state = Prepared(
            primitive: primitive, packedWeights: packed,
            src: try DNNLMemory(srcMD, pointer: nil),
            weights: try DNNLMemory(weightsMD, pointer: packed.pointer),
            bias: try DNNLMemory(biasMD, pointer: scaledBias.pointer),
            dst: try DNNLMemory(dstMD, pointer: nil))
        prepared[rows] = state
        return state
    }
}
