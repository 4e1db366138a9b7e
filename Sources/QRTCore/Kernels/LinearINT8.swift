import CDNNL

/// y = x·Wᵀ + b in integer arithmetic on oneDNN's matmul: u8 rows with a zero point, s8
/// per-output-feature weights, s32 accumulation, f32 output. Parameters are fixed per instance,
/// as in `ConvolutionINT8`.
final class LinearINT8 {
    let name: String
    let geometry: LinearGeometry
    let postOps: [PostOp]
    let input: QuantizationParameters
    private let weights: [Int8]
    private let integerOutput: IntegerOutput

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weights: [Int8], weightScales: [Float], bias: [Float], input: QuantizationParameters,
         geometry: LinearGeometry, postOps: [PostOp]) {
        precondition(weights.count == geometry.inFeatures * geometry.outFeatures, "\(name): weight size")
        precondition(weightScales.count == geometry.outFeatures && bias.count == geometry.outFeatures, "\(name): per-feature sizes")
        self.name = name
        self.weights = weights
        self.input = input
        self.geometry = geometry
        integerOutput = IntegerOutput(weightScales: weightScales, bias: bias, input: input)
        self.postOps = postOps
    }

    /// `output` must already hold the residual when `postOps` has a `.sum`.
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
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        try DNNL.setQuantization(attr, integerOutput)
        let primitive = try DNNLPrimitive.create(
            try geometry.descriptor(rows: rows, source: dnnl_u8, weights: dnnl_s8, name: name), attributes: attr,
            name: "\(name): int8 matmul")
        let packed = try primitive.packWeights(weights, plain: try geometry.plainWeights(dnnl_s8))
        let state = Prepared(
            primitive: primitive, packedWeights: packed.buffer,
            src: try DNNLMemory(primitive.queryMemory(dnnl_query_src_md), pointer: nil), weights: packed.memory,
            bias: try DNNLMemory(try geometry.biasDescriptor, pointer: integerOutput.scaledBias.pointer),
            dst: try DNNLMemory(primitive.queryMemory(dnnl_query_dst_md), pointer: nil))
        prepared[rows] = state
        return state
    }
}
