/// A convolution as the model sees it: FP32 by default, or quantized and then run by the
/// context's executor (fake-quant or INT8) with the same weights, bias and post-ops.
final class ConvolutionLayer: QuantizableLayer {
    let name: String
    let weights: [Float]
    let bias: [Float]
    let geometry: ConvolutionGeometry
    let postOps: [PostOp]
    private let context: QuantizationContext
    private let reference: ConvolutionFP32
    private var fakeQuantKernel: ConvolutionFP32?
    private var int8Kernel: ConvolutionINT8?
    private let scratch = ActivationScratch()

    var inChannels: Int { geometry.inChannels }
    var outChannels: Int { geometry.outChannels }
    var kernel: Int { geometry.kernel }
    var stride: Int { geometry.stride }
    var padding: Int { geometry.padding }
    var outputChannels: Int { outChannels }
    var elementsPerChannel: Int { inChannels * kernel * kernel }
    var quantization: LayerQuantization? {
        didSet { fakeQuantKernel = nil; int8Kernel = nil; executedInput = nil }
    }
    /// The input parameters both quantized executors run (`LayerQuantization.executableInput`).
    private var executedInput: QuantizationParameters?

    init(name: String, weightsOIHW: [Float], bias: [Float], inChannels: Int, outChannels: Int, kernel: Int,
         stride: Int, padding: Int, postOps: [PostOp], context: QuantizationContext) {
        self.name = name
        weights = weightsOIHW
        self.bias = bias
        geometry = ConvolutionGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel,
                                       stride: stride, padding: padding)
        self.postOps = postOps
        self.context = context
        reference = ConvolutionFP32(name: name, weightsOIHW: weightsOIHW, bias: bias, inChannels: inChannels,
                                    outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
                                    postOps: postOps)
        context.register(self)
    }

    func makeProbe(weights quantized: QuantizedWeights?) -> LayerProbe {
        ConvolutionProbe(kernel: ConvolutionFP32(
            name: name, weightsOIHW: quantized?.dequantized() ?? weights, bias: bias, inChannels: inChannels,
            outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
            postOps: postOps.withoutResidual))
    }

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        reference.outputSize(height: height, width: width)
    }

    func run(_ input: Tensor, into output: Tensor) throws {
        let size = outputSize(height: input.shape[0], width: input.shape[1])
        output.reshape([size.height, size.width, outChannels])
        try run(input, into: output.data)
    }

    /// `output` must already hold the residual when `postOps` starts with `.sum`.
    func run(_ input: Tensor, into output: UnsafeMutablePointer<Float>) throws {
        context.inputObserver?(self, UnsafeBufferPointer(input.buffer), input.shape)
        guard let quantization, context.mode != .fp32 else {
            try reference.run(input, into: output)
            return
        }
        let (height, width) = (input.shape[0], input.shape[1])
        if executedInput == nil { executedInput = quantization.executableInput(outputs: outChannels) }
        let levels = executedInput!
        switch context.mode {
        case .fp32:
            try reference.run(input, into: output)
        case .fakeQuant:
            if fakeQuantKernel == nil {
                fakeQuantKernel = ConvolutionFP32(
                    name: name, weightsOIHW: quantization.weights.dequantized(), bias: bias, inChannels: inChannels,
                    outChannels: outChannels, kernel: kernel, stride: stride, padding: padding, postOps: postOps)
            }
            let fake = scratch.floats(like: input)
            levels.fakeQuantize(UnsafeBufferPointer(input.buffer), into: fake.buffer)
            try fakeQuantKernel!.run(fake, into: output)
        case .int8:
            if int8Kernel == nil {
                int8Kernel = ConvolutionINT8(
                    name: name, weightsOIHW: quantization.weights.widenedToInt8(),
                    weightScales: quantization.weights.quantization.scales, bias: bias, input: levels,
                    geometry: geometry, postOps: postOps)
            }
            let codes = scratch.bytes(input.count)
            ActivationQuantizer.quantize(input.data, count: input.count, with: levels, into: codes)
            try int8Kernel!.run(codes, height: height, width: width, into: output)
        }
    }
}


private struct ConvolutionProbe: LayerProbe {
    let kernel: ConvolutionFP32

    func run(_ input: UnsafePointer<Float>, shape: [Int], inputQuantization: QuantizationParameters?) throws -> [Float] {
        let source = Tensor(shape: shape)
        if let inputQuantization {
            inputQuantization.fakeQuantize(UnsafeBufferPointer(start: input, count: source.count), into: source.buffer)
        } else {
            source.data.update(from: input, count: source.count)
        }
        let size = kernel.outputSize(height: shape[0], width: shape[1])
        let output = Tensor(shape: [size.height, size.width, kernel.outChannels])
        try kernel.run(source, into: output)
        return output.toArray()
    }
}
