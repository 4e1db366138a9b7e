/// How the quantizable layers of a model execute: one graph, three executors.
public enum ExecutionMode: String, Sendable, CaseIterable {
    /// The reference: FP32 weights and activations.
    case fp32
    /// FP32 arithmetic with quantize-dequantize at every quant point: the ground truth INT8 is held to.
    case fakeQuant = "fake-quant"
    /// Real integer kernels: u8 activations, s8 weights, s32 accumulation.
    case int8
}

/// The quantization of one layer: its weights and the parameters of its input activation.
struct LayerQuantization: Sendable {
    var weights: QuantizedWeights
    var input: QuantizationParameters

    /// The input parameters the fake-quant and INT8 executors run: `input`, or on a CPU whose
    /// integer kernels would saturate on its codes the same range on fewer levels
    /// (`IntegerDotProduct`), so that fake-quant stays the exact image of what INT8 computes.
    func executableInput(outputs: Int) -> QuantizationParameters {
        IntegerDotProduct.executable(input, weights: weights.widenedToInt8(), outputs: outputs)
    }
}

/// State shared by every quantizable layer of one model.
final class QuantizationContext: @unchecked Sendable {
    var mode: ExecutionMode = .fp32
    /// Sees each quantizable layer's FP32 input (with its shape: [H, W, C] or [rows, features])
    /// before it is quantized: calibration statistics and online range tracking hang here. Layers
    /// call it in execution order.
    var inputObserver: ((_ layer: QuantizableLayer, _ values: UnsafeBufferPointer<Float>, _ shape: [Int]) -> Void)?
    /// Every quantizable layer, in construction order.
    private(set) var layers: [QuantizableLayer] = []

    func register(_ layer: QuantizableLayer) { layers.append(layer) }

    /// How many quantized layers this CPU runs on fewer activation levels than calibrated
    /// (`LayerQuantization.executableInput`), and the fewest levels among them.
    func narrowedInputs() -> (layers: Int, fewestLevels: Int) {
        var (count, fewest) = (0, 256)
        for layer in layers {
            guard let quantization = layer.quantization else { continue }
            let levels = Int(quantization.executableInput(outputs: layer.outputChannels).qmax) + 1
            if levels < Int(quantization.input.qmax) + 1 {
                count += 1
                fewest = min(fewest, levels)
            }
        }
        return (count, fewest)
    }
}

/// A convolution or linear layer with a quant point at its input and quantizable weights.
protocol QuantizableLayer: AnyObject {
    var name: String { get }
    /// FP32 weights as [outputChannels, elementsPerChannel] (OIHW flattened for convolutions).
    var weights: [Float] { get }
    var bias: [Float] { get }
    var outputChannels: Int { get }
    /// Values per input row the layer reduces over (inChannels·k·k, or inFeatures).
    var elementsPerChannel: Int { get }
    var quantization: LayerQuantization? { get set }
    /// A detached copy of the layer's arithmetic for calibration searches: FP32, or with these
    /// quantized weights; it runs without the residual sum.
    func makeProbe(weights: QuantizedWeights?) -> LayerProbe
}

/// Runs one layer alone on cached inputs, optionally fake-quantizing the input first.
protocol LayerProbe {
    func run(_ input: UnsafePointer<Float>, shape: [Int], inputQuantization: QuantizationParameters?) throws -> [Float]
}

extension [PostOp] {
    /// The post-ops that do not read the output buffer: everything before a residual sum.
    var withoutResidual: [PostOp] { Array(prefix { $0 != .sum }) }
}
