import Foundation

/// The whole detection path for one frame: RGB bytes at the model's input size → preprocess
/// (÷255, no mean/std, as RT-DETR) → model → top-k over queries × classes → boxes in source pixels.
public final class Detector {
    public let model: RTDetrModel
    public let inputSize: Int
    public let labels: [String]
    /// COCO's sparse category id for each class index.
    public let categoryIDs: [Int]
    private let input: Tensor
    /// The raw outputs of the latest run (owned by the model, overwritten by the next run).
    public private(set) var lastOutputs: (logits: Tensor, boxes: Tensor)?

    public init(model: RTDetrModel, inputSize: Int) {
        self.model = model
        self.inputSize = inputSize
        labels = model.config.labels
        categoryIDs = model.config.labels.indices.map { CocoCategories.categoryID(forClassIndex: $0) ?? ($0 + 1) }
        input = Tensor(shape: [inputSize, inputSize, 3])
    }

    /// Fills the model input from RGB24 pixels at inputSize × inputSize.
    public func setInput(rgb: UnsafeBufferPointer<UInt8>) {
        Preprocess.fill(input, rgb: rgb, size: inputSize)
    }

    /// Runs the model on the current input; returns the raw outputs (owned by the model).
    public func runModel() throws -> (logits: Tensor, boxes: Tensor) {
        let outputs = try model(input)
        lastOutputs = outputs
        return outputs
    }

    public func detect(rgb: UnsafeBufferPointer<UInt8>, sourceWidth: Int, sourceHeight: Int,
                       scoreThreshold: Float) throws -> [Detection] {
        setInput(rgb: rgb)
        let (logits, boxes) = try runModel()
        return Postprocess.detections(logits: logits, boxes: boxes, labels: labels, categoryIDs: categoryIDs,
                                      sourceWidth: sourceWidth, sourceHeight: sourceHeight,
                                      scoreThreshold: scoreThreshold)
    }
}

/// RT-DETR's input: RGB scaled to [0, 1], no mean or std.
public enum Preprocess {
    public static func tensor(rgb: UnsafeBufferPointer<UInt8>, size: Int) -> Tensor {
        let tensor = Tensor(shape: [size, size, 3])
        fill(tensor, rgb: rgb, size: size)
        return tensor
    }

    static func fill(_ tensor: Tensor, rgb: UnsafeBufferPointer<UInt8>, size: Int) {
        precondition(rgb.count == size * size * 3, "expected \(size)×\(size) RGB")
        for i in 0..<rgb.count { tensor.data[i] = Float(rgb[i]) / 255 }
    }
}

/// transformers' `post_process_object_detection` for RT-DETR with focal-loss heads.
public enum Postprocess {
    public static func detections(logits: Tensor, boxes: Tensor, labels: [String], categoryIDs: [Int],
                                  sourceWidth: Int, sourceHeight: Int, scoreThreshold: Float) -> [Detection] {
        let (queries, classes) = (logits.shape[0], logits.shape[1])
        // sigmoid is monotonic: rank on logits, and only the kept ones need the exponential.
        var top = [Int](repeating: 0, count: queries)
        var topLogits = [Float](repeating: 0, count: queries)
        let found = TopK.largest(logits.data, count: queries * classes, k: queries, indices: &top, topValues: &topLogits)
        var result: [Detection] = []
        let (w, h) = (Float(sourceWidth), Float(sourceHeight))
        for index in top.prefix(found) {
            let score = 1 / (1 + exp(-logits.data[index]))
            guard score >= scoreThreshold else { continue }
            let (query, label) = index.quotientAndRemainder(dividingBy: classes)
            let b = boxes.data + query * 4
            let (cx, cy, bw, bh) = (b[0], b[1], b[2], b[3])
            result.append(Detection(
                label: label < labels.count ? labels[label] : "class_\(label)",
                categoryID: label < categoryIDs.count ? categoryIDs[label] : label,
                score: score,
                box: ((cx - 0.5 * bw) * w, (cy - 0.5 * bh) * h, (cx + 0.5 * bw) * w, (cy + 0.5 * bh) * h)))
        }
        return result
    }
}
