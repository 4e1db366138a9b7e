/// A linear layer as the model sees it: FP32 by default, or quantized and run by the context's
/// executor, as `ConvolutionLayer`.
final class LinearLayer: QuantizableLayer {
    let name: String
    let weights: [Float]
    let bias: [Float]
    let inFeatures: Int
    let outFeatures: Int
    let postOps: [PostOp]
    private let context: QuantizationContext
    private let reference: LinearFP32
    private var fakeQuantKernel: LinearFP32?
    private var int8Kernel: LinearINT8?
    private let scratch = ActivationScratch()

    var outputChannels: Int { outFeatures }
    var elementsPerChannel: Int { inFeatures }
    var quantization: LayerQuantization? {
        didSet { fakeQuantKernel = nil; int8Kernel = nil; executedInput = nil }
    }
    /// The input parameters both quantized executors run (`LayerQuantization.executableInput`).
    private var executedInput: QuantizationParameters?

    init(name: String, weights: [Float], bias: [Float], inFeatures: Int, outFeatures: Int, postOps: [PostOp],
         context: QuantizationContext) {
        self.name = name
        self.weights = weights
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.postOps = postOps
        self.context = context
        reference = LinearFP32(name: name, weights: weights, bias: bias, inFeatures: inFeatures,
                               outFeatures: outFeatures, postOps: postOps)
        context.register(self)
    }

    func makeProbe(weights quantized: QuantizedWeights?) -> LayerProbe {
        LinearProbe(kernel: LinearFP32(name: name, weights: quantized?.dequantized() ?? weights, bias: bias,
                                       inFeatures: inFeatures, outFeatures: outFeatures, postOps: postOps.withoutResidual))
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        let rows = input.count / inFeatures
        precondition(rows * inFeatures == input.count, "\(name): input \(input.shape) is not a multiple of \(inFeatures)")
        output.reshape([rows, outFeatures])
        try run(input.data, rows: rows, into: output.data)
    }

    /// `output` must already hold the residual when `postOps` starts with `.sum`.
    func run(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) throws {
        let count = rows * inFeatures
        context.inputObserver?(self, UnsafeBufferPointer(start: input, count: count), [rows, inFeatures])
        guard let quantization, context.mode != .fp32 else {
            try reference.run(input, rows: rows, into: output)
            return
        }
        if executedInput == nil { executedInput = quantization.executableInput(outputs: outFeatures) }
        let levels = executedInput!
        switch context.mode {
        case .fp32:
            try reference.run(input, rows: rows, into: output)
        case .fakeQuant:
            if fakeQuantKernel == nil {
                fakeQuantKernel = LinearFP32(name: name, weights: quantization.weights.dequantized(), bias: bias,
                                             inFeatures: inFeatures, outFeatures: outFeatures, postOps: postOps)
            }
            let fake = scratch.floats(shape: [rows, inFeatures])
            levels.fakeQuantize(UnsafeBufferPointer(start: input, count: count), into: fake.buffer)
            try fakeQuantKernel!.run(fake.data, rows: rows, into: output)
        case .int8:
            if int8Kernel == nil {
                int8Kernel = LinearINT8(name: name, weights: quantization.weights.widenedToInt8(),
                                        weightScales: quantization.weights.quantization.scales, bias: bias,
                                        input: levels,
                                        geometry: LinearGeometry(inFeatures: inFeatures, outFeatures: outFeatures),
                                        postOps: postOps)
            }
            let codes = scratch.bytes(count)
            ActivationQuantizer.quantize(input, count: count, with: levels, into: codes)
            try int8Kernel!.run(codes, rows: rows, into: output)
        }
    }
}

private struct LinearProbe: LayerProbe {
    let kernel: LinearFP32

    func run(_ input: UnsafePointer<Float>, shape: [Int], inputQuantization: QuantizationParameters?) throws -> [Float] {
        let rows = shape[0]
        var source = [Float](UnsafeBufferPointer(start: input, count: rows * kernel.inFeatures))
        if let inputQuantization {
            source.withUnsafeMutableBufferPointer { inputQuantization.fakeQuantize($0) }
        }
        var output = [Float](repeating: 0, count: rows * kernel.outFeatures)
        try kernel.run(source, rows: rows, into: &output)
        return output
    }
}
