import CDNNL

/// y = x·Wᵀ + b for a [rows, inFeatures] input, FP32 on oneDNN's matmul, with fused post-ops.
/// Weights arrive as PyTorch's [outFeatures, inFeatures] and are packed once per row count.
final class LinearFP32 {
    let name: String
    let geometry: LinearGeometry
    let postOps: [PostOp]
    private let weights: [Float]
    private let biasBuffer: PackedBuffer

    var inFeatures: Int { geometry.inFeatures }
    var outFeatures: Int { geometry.outFeatures }

    private struct Prepared {
        let primitive: DNNLPrimitive
        let packedWeights: PackedBuffer
        let src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
    }
    private var prepared: [Int: Prepared] = [:]

    init(name: String, weights: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, postOps: [PostOp] = []) {
        precondition(weights.count == inFeatures * outFeatures, "\(name): weight size")
        self.name = name
        self.weights = weights
        self.biasBuffer = PackedBuffer(copying: bias ?? [Float](repeating: 0, count: outFeatures))
        geometry = LinearGeometry(inFeatures: inFeatures, outFeatures: outFeatures)
        self.postOps = postOps
    }

    /// `output` must already hold the residual when `postOps` has a `.sum`.
    func run(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) throws {
        let state = try prepare(rows: rows)
        state.src.point(at: UnsafeMutableRawPointer(mutating: input))
        state.dst.point(at: UnsafeMutableRawPointer(output))
        try state.primitive.execute([
            (DNNL_ARG_SRC, state.src.handle), (DNNL_ARG_WEIGHTS, state.weights.handle),
            (DNNL_ARG_BIAS, state.bias.handle), (DNNL_ARG_DST, state.dst.handle),
        ])
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        let rows = input.count / inFeatures
        precondition(rows * inFeatures == input.count, "\(name): input \(input.shape) is not a multiple of \(inFeatures)")
        output.reshape([rows, outFeatures])
        try run(input.data, rows: rows, into: output.data)
    }

    private func prepare(rows: Int) throws -> Prepared {
        if let state = prepared[rows] { return state }
        let attr = try PostOp.attribute(for: postOps)
        defer { dnnl_primitive_attr_destroy(attr) }
        let primitive = try DNNLPrimitive.create(
            try geometry.descriptor(rows: rows, source: dnnl_f32, weights: dnnl_f32, name: name), attributes: attr,
            name: "\(name): matmul")
        let packed = try primitive.packWeights(weights, plain: try geometry.plainWeights(dnnl_f32))
        let state = Prepared(
            primitive: primitive, packedWeights: packed.buffer,
            src: try DNNLMemory(primitive.queryMemory(dnnl_query_src_md), pointer: nil), weights: packed.memory,
            bias: try DNNLMemory(try geometry.biasDescriptor, pointer: biasBuffer.pointer),
            dst: try DNNLMemory(primitive.queryMemory(dnnl_query_dst_md), pointer: nil))
        prepared[rows] = state
        return state
    }
}
