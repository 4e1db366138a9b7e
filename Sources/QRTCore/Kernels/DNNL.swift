import CDNNL

/// The process-wide oneDNN CPU engine and stream. oneDNN runs on OpenMP (libgomp): the thread
/// count set here is the one compute pool of the process.
enum DNNL {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        precondition(dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, "oneDNN: no CPU engine")
        return engine!
    }()

    nonisolated(unsafe) static let stream: dnnl_stream_t = {
        var stream: dnnl_stream_t?
        precondition(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
                     "oneDNN: no CPU stream")
        return stream!
    }()

    /// The OpenMP team size of the calling thread's next parallel regions.
    static var threads: Int { Int(omp_get_max_threads()) }

    static func setThreads(_ count: Int) {
        omp_set_num_threads(Int32(max(1, count)))
    }

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else {
            throw Failure(description: "oneDNN: \(what()) failed (status \(status.rawValue))")
        }
    }

    /// Static per-channel output scales and, when nonzero, the source zero point. oneDNN 2.6 has no
    /// runtime output scales for convolutions, so a change of activation range builds a new
    /// primitive for the layer (milliseconds, off the frame path) instead of patching one.
    static func setQuantization(_ attr: dnnl_primitive_attr_t, _ output: IntegerOutput) throws {
        try check(dnnl_primitive_attr_set_output_scales(attr, dnnl_dim_t(output.scales.count), 1 << 1, output.scales),
                  "output scales")
        if output.zeroPoint != 0 {
            var zero = output.zeroPoint
            try check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &zero), "zero point")
        }
    }

    static func memoryDescriptor(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws
        -> dnnl_memory_desc_t
    {
        var md = dnnl_memory_desc_t()
        var d = dims.map { dnnl_dim_t($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), &d, type, tag), "memory descriptor \(dims)")
        return md
    }
}

/// A oneDNN memory object over caller-owned storage; the handle is re-pointed before each run.
final class DNNLMemory {
    let handle: dnnl_memory_t
    var descriptor: dnnl_memory_desc_t

    init(_ descriptor: dnnl_memory_desc_t, pointer: UnsafeMutableRawPointer?) throws {
        var md = descriptor
        var memory: dnnl_memory_t?
        try DNNL.check(dnnl_memory_create(&memory, &md, DNNL.engine, pointer), "memory create")
        self.handle = memory!
        self.descriptor = descriptor
    }

    func point(at pointer: UnsafeMutableRawPointer) {
        dnnl_memory_set_data_handle(handle, pointer)
    }

    deinit { dnnl_memory_destroy(handle) }
}

/// Owned storage for weights in whatever layout oneDNN picked for a primitive.
final class PackedBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = max(byteCount, 64)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.byteCount, alignment: 64)
    }

    convenience init(copying values: [Float]) {
        self.init(byteCount: values.count * MemoryLayout<Float>.stride)
        values.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    deinit { pointer.deallocate() }
}

/// A created primitive with its descriptor; destroyed together.
final class DNNLPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(descriptor: dnnl_primitive_desc_t) throws {
        var primitive: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&primitive, descriptor), "primitive create")
        self.descriptor = descriptor
        self.primitive = primitive!
    }

    /// oneDNN's name for the implementation it picked ("brg:avx512_core", "jit:avx2", "ref:any", ...).
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name
        else { return "" }
        return String(cString: name)
    }

    /// A reference (scalar C++) implementation: oneDNN's fallback when no JIT kernel supports the
    /// shape, layout or post-op chain on this CPU; orders of magnitude slower.
    var isReference: Bool { implementation.hasPrefix("ref") }

    func queryMemory(_ what: dnnl_query_t) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, what, 0).pointee
    }

    func execute(_ args: [(Int32, dnnl_memory_t)]) throws {
        var exec = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        try DNNL.check(dnnl_primitive_execute(primitive, DNNL.stream, Int32(exec.count), &exec), "execute")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// A reorder between two layouts of the same tensor, for repeated use.
    static func reorderPrimitive(from sourceMD: dnnl_memory_desc_t, to targetMD: dnnl_memory_desc_t) throws -> DNNLPrimitive {
        var from = sourceMD, to = targetMD
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(dnnl_reorder_primitive_desc_create(&pd, &from, DNNL.engine, &to, DNNL.engine, nil), "reorder")
        return try DNNLPrimitive(descriptor: pd!)
    }

    /// Copies `source` (in `sourceMD`) into a fresh buffer laid out as `targetMD`.
    static func reorder(_ source: UnsafeRawPointer, from sourceMD: dnnl_memory_desc_t,
                        to targetMD: dnnl_memory_desc_t) throws -> PackedBuffer {
        var to = targetMD
        let packed = PackedBuffer(byteCount: dnnl_memory_desc_get_size(&to))
        let reorder = try reorderPrimitive(from: sourceMD, to: targetMD)
        let src = try DNNLMemory(sourceMD, pointer: UnsafeMutableRawPointer(mutating: source))
        let dst = try DNNLMemory(targetMD, pointer: packed.pointer)
        try reorder.execute([(DNNL_ARG_FROM, src.handle), (DNNL_ARG_TO, dst.handle)])
        return packed
    }
}

/// How an integer kernel turns its s32 accumulator into f32 output, per output channel c:
/// out = inputScale · weightScale[c] · Σ (q − zeroPoint)·w + bias[c].
struct IntegerOutput {
    let scales: [Float]
    let zeroPoint: Int32
    /// oneDNN 2.x applies the output scale to (accumulator + bias): the bias is stored pre-divided.
    let scaledBias: PackedBuffer

    init(weightScales: [Float], bias: [Float], input: QuantizationParameters) {
        precondition(weightScales.count == bias.count, "\(weightScales.count) scales for \(bias.count) biases")
        scales = weightScales.map { $0 * input.scale }
        zeroPoint = input.zeroPoint
        scaledBias = PackedBuffer(copying: zip(bias, scales).map { $1 == 0 ? 0 : $0 / $1 })
    }
}

/// Post-operations fused into a convolution or matmul, applied in order.
enum PostOp: Equatable, Sendable {
    /// dst = dst_before + result (a residual add into the output buffer).
    case sum
    case relu
    case silu
    case gelu

    /// The post-op for a config.json activation name; `field` names the key in errors.
    static func activation(named name: String, field: String) throws -> PostOp {
        switch name {
        case "relu": return .relu
        case "silu", "swish": return .silu
        case "gelu": return .gelu
        default:
            throw CheckpointError(.config, file: "config.json", subject: CheckpointError.field(field),
                                  "activation \(CheckpointError.quote(name)) is not supported")
        }
    }

    static func attribute(for ops: [PostOp]) throws -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        try DNNL.check(dnnl_primitive_attr_create(&attr), "attr create")
        var postOps: dnnl_post_ops_t?
        try DNNL.check(dnnl_post_ops_create(&postOps), "post-ops create")
        defer { dnnl_post_ops_destroy(postOps) }
        for op in ops {
            switch op {
            case .sum: try DNNL.check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op")
            case .relu: try DNNL.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "relu")
            case .silu: try DNNL.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_swish, 1, 0), "silu")
            case .gelu: try DNNL.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_gelu_erf, 0, 0), "gelu")
            }
        }
        try DNNL.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set post-ops")
        return attr!
    }
}
