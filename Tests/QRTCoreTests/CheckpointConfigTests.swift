import Foundation
import Testing

@testable import QRTCore

/// `RTDetrConfig`: transformers' own config.json files load, defaults match transformers, and
/// every malformed or unsupported field is refused with one line naming config.json and the field.
@Suite struct ConfigCheckpointTests {
    /// `RTDetrConfig(backbone_config=RTDetrResNetConfig(depths=[2,2,2,2], hidden_sizes=[64,128,256,512],
    /// layer_type="basic", downsample_in_bottleneck=True, out_indices=[2,3,4]), encoder_in_channels=[128,256,512],
    /// hidden_expansion=0.5, decoder_layers=3, id2label=COCO).to_json_string(use_diff=False)` from
    /// transformers 5.25 (label2id dropped for length): the r18vd layout.
    static let r18vdJSON = #"""
        {"_name_or_path": "", "activation_dropout": 0.0, "activation_function": "silu", "anchor_image_size": null,
        "architectures": null, "attention_dropout": 0.0, "auxiliary_loss": true,
        "backbone_config": {"_name_or_path": "", "architectures": null, "chunk_size_feed_forward": 0, "depths": [2,
        2, 2, 2], "downsample_in_bottleneck": true, "downsample_in_first_stage": false, "dtype": null,
        "embedding_size": 64, "hidden_act": "relu", "hidden_sizes": [64, 128, 256, 512], "id2label": {"0": "LABEL_0",
        "1": "LABEL_1"}, "is_encoder_decoder": false, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
        "layer_type": "basic", "model_type": "rt_detr_resnet", "num_channels": 3, "out_features": ["stage2",
        "stage3", "stage4"], "out_indices": [2, 3, 4], "output_attentions": false, "output_hidden_states": false,
        "problem_type": null, "return_dict": true, "stage_names": ["stem", "stage1", "stage2", "stage3", "stage4"]},
        "batch_norm_eps": 1e-05, "box_noise_scale": 1.0, "chunk_size_feed_forward": 0, "d_model": 256,
        "decoder_activation_function": "relu", "decoder_attention_heads": 8, "decoder_ffn_dim": 1024,
        "decoder_in_channels": [256, 256, 256], "decoder_layers": 3, "decoder_n_points": 4,
        "disable_custom_kernels": true, "dropout": 0.0, "dtype": null, "encode_proj_layers": [2],
        "encoder_activation_function": "gelu", "encoder_attention_heads": 8, "encoder_ffn_dim": 1024,
        "encoder_hidden_dim": 256, "encoder_in_channels": [128, 256, 512], "encoder_layers": 1,
        "eos_coefficient": 0.0001, "eval_size": null, "feat_strides": [8, 16, 32], "focal_loss_alpha": 0.75,
        "focal_loss_gamma": 2.0, "freeze_backbone_batch_norms": true, "hidden_expansion": 0.5,
        "id2label": {"0": "person", "1": "bicycle", "2": "car", "3": "motorcycle", "4": "airplane", "5": "bus",
        "6": "train", "7": "truck", "8": "boat", "9": "traffic light", "10": "fire hydrant", "11": "stop sign",
        "12": "parking meter", "13": "bench", "14": "bird", "15": "cat", "16": "dog", "17": "horse", "18": "sheep",
        "19": "cow", "20": "elephant", "21": "bear", "22": "zebra", "23": "giraffe", "24": "backpack",
        "25": "umbrella", "26": "handbag", "27": "tie", "28": "suitcase", "29": "frisbee", "30": "skis",
        "31": "snowboard", "32": "sports ball", "33": "kite", "34": "baseball bat", "35": "baseball glove",
        "36": "skateboard", "37": "surfboard", "38": "tennis racket", "39": "bottle", "40": "wine glass",
        "41": "cup", "42": "fork", "43": "knife", "44": "spoon", "45": "bowl", "46": "banana", "47": "apple",
        "48": "sandwich", "49": "orange", "50": "broccoli", "51": "carrot", "52": "hot dog", "53": "pizza",
        "54": "donut", "55": "cake", "56": "chair", "57": "couch", "58": "potted plant", "59": "bed",
        "60": "dining table", "61": "toilet", "62": "tv", "63": "laptop", "64": "mouse", "65": "remote",
        "66": "keyboard", "67": "cell phone", "68": "microwave", "69": "oven", "70": "toaster", "71": "sink",
        "72": "refrigerator", "73": "book", "74": "clock", "75": "vase", "76": "scissors", "77": "teddy bear",
        "78": "hair drier", "79": "toothbrush"}, "initializer_bias_prior_prob": null, "initializer_range": 0.01,
        "is_encoder_decoder": true, "label_noise_ratio": 0.5, "layer_norm_eps": 1e-05, "learn_initial_query": false,
        "matcher_alpha": 0.25, "matcher_bbox_cost": 5.0, "matcher_class_cost": 2.0, "matcher_gamma": 2.0,
        "matcher_giou_cost": 2.0, "model_type": "rt_detr", "normalize_before": false, "num_denoising": 100,
        "num_feature_levels": 3, "num_queries": 300, "output_attentions": false, "output_hidden_states": false,
        "positional_encoding_temperature": 10000, "problem_type": null, "return_dict": true,
        "transformers_version": "5.25.0", "use_focal_loss": true, "weight_loss_bbox": 5.0, "weight_loss_giou": 2.0,
        "weight_loss_vfl": 1.0, "with_box_refine": true}
        """#

    private func decode(_ json: String) throws(CheckpointError) -> RTDetrConfig {
        try RTDetrConfig(jsonData: Data(json.utf8))
    }

    private func expectError(
        _ json: String, contains fragments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try decode(json)
            Issue.record("expected an error for \(json)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == .config, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("config.json: "), "\(error)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(error.description.contains(fragment), "'\(fragment)' not in: \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    /// `{"model_type": "rt_detr", …}` with one field replaced.
    private func with(_ field: String, _ value: String) -> String {
        #"{"model_type": "rt_detr", "\#(field)": \#(value)}"#
    }

    private func withBackbone(_ body: String) -> String {
        #"{"model_type": "rt_detr", "backbone_config": {"model_type": "rt_detr_resnet"\#(body)}}"#
    }

    @Test func loadsTransformersR18vdConfig() throws {
        let config = try decode(Self.r18vdJSON)
        #expect(config.dModel == 256)
        #expect(config.encoderHiddenDim == 256)
        #expect(config.encoderInChannels == [128, 256, 512])
        #expect(config.featStrides == [8, 16, 32])
        #expect(config.encoderLayers == 1)
        #expect(config.encoderFfnDim == 1024)
        #expect(config.encoderAttentionHeads == 8)
        #expect(config.encodeProjLayers == [2])
        #expect(config.positionalEncodingTemperature == 10000)
        #expect(config.encoderActivationFunction == "gelu")
        #expect(config.activationFunction == "silu")
        #expect(config.normalizeBefore == false)
        #expect(config.hiddenExpansion == 0.5)
        #expect(config.numQueries == 300)
        #expect(config.decoderInChannels == [256, 256, 256])
        #expect(config.decoderFfnDim == 1024)
        #expect(config.numFeatureLevels == 3)
        #expect(config.decoderNPoints == 4)
        #expect(config.decoderLayers == 3)
        #expect(config.decoderAttentionHeads == 8)
        #expect(config.decoderActivationFunction == "relu")
        #expect(config.learnInitialQuery == false)
        #expect(config.anchorImageSize == nil)
        #expect(config.evalSize == nil)
        #expect(config.withBoxRefine == true)
        #expect(config.layerNormEps == 1e-5)
        #expect(config.batchNormEps == 1e-5)
        #expect(config.numDenoising == 100)
        #expect(config.numLabels == 80)
        #expect(config.labels.first == "person")
        #expect(config.labels.last == "toothbrush")
        #expect(config.labels == CocoCategories.all.map(\.name))

        let backbone = config.backbone
        #expect(backbone.numChannels == 3)
        #expect(backbone.embeddingSize == 64)
        #expect(backbone.hiddenSizes == [64, 128, 256, 512])
        #expect(backbone.depths == [2, 2, 2, 2])
        #expect(backbone.layerType == .basic)
        #expect(backbone.hiddenAct == "relu")
        #expect(backbone.downsampleInFirstStage == false)
        #expect(backbone.downsampleInBottleneck == true)
        #expect(backbone.outFeatures == ["stage2", "stage3", "stage4"])
        #expect(backbone.outIndices == [2, 3, 4])
        #expect(backbone.outChannels == [128, 256, 512])
        #expect(backbone.stageNames == ["stem", "stage1", "stage2", "stage3", "stage4"])
    }

    /// Absent keys take transformers' defaults: `RTDetrConfig()` is r50vd with 2 generic labels.
    @Test func defaultsMatchTransformers() throws {
        let config = try decode(#"{"model_type": "rt_detr"}"#)
        #expect(config.encoderInChannels == [512, 1024, 2048])
        #expect(config.hiddenExpansion == 1.0)
        #expect(config.decoderLayers == 6)
        #expect(config.activationFunction == "silu")
        #expect(config.encoderActivationFunction == "gelu")
        #expect(config.decoderActivationFunction == "relu")
        #expect(config.labels == ["LABEL_0", "LABEL_1"])
        #expect(config.backbone == .resNet50Default)
        #expect(config.backbone.outChannels == [512, 1024, 2048])

        #expect(try decode(with("num_labels", "80")).labels.count == 80)
        // A backbone_config dict without out_indices/out_features outputs only the last stage.
        let lastOnly = try decode(
            #"{"model_type": "rt_detr", "encoder_in_channels": [2048], "feat_strides": [32], "encode_proj_layers": [0], "decoder_in_channels": [256], "num_feature_levels": 1, "backbone_config": {"model_type": "rt_detr_resnet"}}"#)
        #expect(lastOnly.backbone.outIndices == [4])
        #expect(lastOnly.backbone.outFeatures == ["stage4"])
    }

    @Test func outputStagesAlignLikeTransformers() throws {
        let fromFeatures = try decode(withBackbone(#", "out_features": ["stage2", "stage3", "stage4"]"#))
        #expect(fromFeatures.backbone.outIndices == [2, 3, 4])
        let negative = try decode(withBackbone(#", "out_indices": [-3, -2, -1]"#))
        #expect(negative.backbone.outIndices == [2, 3, 4])
        #expect(negative.backbone.outFeatures == ["stage2", "stage3", "stage4"])
        expectError(
            withBackbone(#", "out_indices": [2, 3, 4], "out_features": ["stage1", "stage3", "stage4"]"#),
            contains: ["field 'backbone_config.out_features'", "do not match out_indices [2, 3, 4]"])
        expectError(withBackbone(#", "out_indices": [4, 3, 2]"#), contains: ["must be in stage order"])
        expectError(withBackbone(#", "out_indices": [2, 2, 4]"#), contains: ["must not repeat a stage"])
        expectError(withBackbone(#", "out_indices": [2, 3, 9]"#), contains: ["index 9 is outside the 5 stages"])
        expectError(withBackbone(#", "out_features": ["stage2", "stage3", "stage9"]"#), contains: ["'stage9' is not a stage name"])
        expectError(withBackbone(#", "out_indices": [0, 3, 4]"#), contains: ["the stem as an output feature is not supported"])
    }

    @Test func unknownModelType() {
        expectError(
            #"{"model_type": "rt_detr_v2"}"#,
            contains: ["config.json: field 'model_type': 'rt_detr_v2' is not supported (expected 'rt_detr')"])
        expectError(
            withBackbone("").replacingOccurrences(of: "rt_detr_resnet", with: "resnet"),
            contains: ["field 'backbone_config.model_type': 'resnet' is not supported (expected 'rt_detr_resnet')"])
    }

    @Test func missingField() {
        expectError(#"{"d_model": 256}"#, contains: ["config.json: field 'model_type': is missing"])
        expectError(
            #"{"model_type": "rt_detr", "backbone_config": {"depths": [2, 2, 2, 2]}}"#,
            contains: ["field 'backbone_config.model_type': is missing"])
        expectError(
            #"{"model_type": "rt_detr", "backbone": "resnet50d"}"#,
            contains: ["field 'backbone': 'resnet50d' names a timm/hub backbone"])
    }

    @Test func wrongFieldType() {
        expectError(with("d_model", #""256""#), contains: ["config.json: field 'd_model': must be an integer, found the string '256'"])
        expectError(with("d_model", "null"), contains: ["field 'd_model': must be an integer, found null"])
        expectError(with("d_model", "256.5"), contains: ["field 'd_model': must be an integer"])
        expectError(with("normalize_before", "0"), contains: ["field 'normalize_before': must be true or false, found the number 0.0"])
        expectError(with("feat_strides", "[8, \"16\", 32]"), contains: ["field 'feat_strides': must be a list of integers, found a list"])
        expectError(with("layer_norm_eps", "\"1e-5\""), contains: ["field 'layer_norm_eps': must be a number"])
        expectError(with("id2label", "[\"person\"]"), contains: ["field 'id2label': must be an object mapping class indices"])
        expectError(with("backbone_config", "[1]"), contains: ["field 'backbone_config': must be a JSON object, found a list"])
        expectError(
            withBackbone(#", "depths": "3,4,6,3""#),
            contains: ["field 'backbone_config.depths': must be a list of integers, found the string '3,4,6,3'"])
        expectError(with("anchor_image_size", "640"), contains: ["field 'anchor_image_size': must be null or a list [height, width]"])
        expectError("[1, 2]", contains: ["config.json: must be a JSON object, found a list"])
        expectError("{not json", contains: ["config.json: is not valid JSON"])
    }

    @Test func unsupportedValues() {
        expectError(
            with("activation_function", #""gelu_new""#),
            contains: ["field 'activation_function': activation 'gelu_new' is not supported (supported: gelu, relu, silu, swish)"])
        expectError(with("decoder_activation_function", #""tanh""#), contains: ["field 'decoder_activation_function'"])
        expectError(with("encoder_activation_function", "null"), contains: ["field 'encoder_activation_function': must be"])
        expectError(withBackbone(#", "hidden_act": "mish""#), contains: ["field 'backbone_config.hidden_act'"])
        expectError(
            withBackbone(#", "layer_type": "preact""#),
            contains: ["field 'backbone_config.layer_type': 'preact' is not one of basic, bottleneck"])
        expectError(with("d_model", "0"), contains: ["field 'd_model': must be positive, found 0"])
        expectError(with("decoder_attention_heads", "7"), contains: ["7 heads do not divide d_model 256"])
        expectError(with("encode_proj_layers", "[3]"), contains: ["field 'encode_proj_layers': level 3 is outside 0..<3"])
        expectError(with("feat_strides", "[8, 16]"), contains: ["field 'feat_strides': has 2 levels but encoder_in_channels has 3"])
        expectError(with("num_feature_levels", "2"), contains: ["field 'num_feature_levels'"])
        expectError(with("anchor_image_size", "[640]"), contains: ["must be [height, width], found [640]"])
        expectError(with("layer_norm_eps", "-1"), contains: ["field 'layer_norm_eps': must be a positive finite number"])
        expectError(withBackbone(#", "depths": [3, 4, 6]"#), contains: ["field 'backbone_config.hidden_sizes': has 4 stages but depths has 3"])
        expectError(withBackbone(#", "depths": [3, 0, 6, 3]"#), contains: ["must hold positive integers, found 0"])
    }

    @Test func labels() throws {
        let config = try decode(with("id2label", #"{"1": "car", "0": "person"}"#))
        #expect(config.labels == ["person", "car"])
        expectError(with("id2label", #"{"0": "a", "2": "b"}"#), contains: ["field 'id2label': class indices must run 0..<2; 1 is missing"])
        expectError(with("id2label", #"{"zero": "a"}"#), contains: ["field 'id2label': key 'zero' is not a class index"])
        expectError(with("id2label", #"{"0": 5}"#), contains: ["field 'id2label'"])
        expectError(with("id2label", "{}"), contains: ["field 'id2label': must not be empty"])
        expectError(
            #"{"model_type": "rt_detr", "num_labels": 3, "id2label": {"0": "a"}}"#,
            contains: ["field 'num_labels': is 3, but id2label has 1 labels"])
    }

    @Test func optionalSizes() throws {
        let config = try decode(#"{"model_type": "rt_detr", "anchor_image_size": [640, 480], "eval_size": 640}"#)
        #expect(config.anchorImageSize == [640, 480])
        #expect(config.evalSize == [640, 640])
        #expect(try decode(with("eval_size", "[320, 416]")).evalSize == [320, 416])
    }

    @Test func encodeDecodeRoundTrip() throws {
        let config = try decode(Self.r18vdJSON)
        let encoded = try JSONEncoder().encode(config)
        let again = try RTDetrConfig(jsonData: encoded)
        #expect(again == config)
        // The encoded keys are transformers' names.
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(object["model_type"] as? String == "rt_detr")
        #expect(object["encoder_ffn_dim"] as? Int == 1024)
        #expect((object["id2label"] as? [String: String])?["0"] == "person")
        #expect((object["backbone_config"] as? [String: Any])?["layer_type"] as? String == "basic")
    }

    @Test func loadFromFile() throws {
        let fixture = try SafeTensorsFixture()
        defer { fixture.remove() }
        let url = fixture.directory.appendingPathComponent("config.json")
        try Data(Self.r18vdJSON.utf8).write(to: url)
        #expect(try RTDetrConfig.load(from: url).numLabels == 80)
        #expect {
            try RTDetrConfig.load(from: fixture.directory.appendingPathComponent("missing.json"))
        } throws: { error in
            let error = error as! CheckpointError
            return error.kind == .io && error.description.hasPrefix("missing.json: cannot read")
        }
        let named = fixture.directory.appendingPathComponent("other.json")
        try Data(#"{"model_type": "detr"}"#.utf8).write(to: named)
        #expect {
            try RTDetrConfig.load(from: named)
        } throws: { error in
            (error as! CheckpointError).description.hasPrefix("other.json: field 'model_type'")
        }
    }

    // MARK: - COCO categories

    @Test func cocoCategories() throws {
        #expect(CocoCategories.all.count == 80)
        #expect(CocoCategories.all.map(\.classIndex) == Array(0..<80))
        #expect(Set(CocoCategories.all.map(\.id)).count == 80)
        #expect(CocoCategories.all.map(\.id) == CocoCategories.all.map(\.id).sorted())
        #expect(CocoCategories.categoryID(forClassIndex: 0) == 1)
        #expect(CocoCategories.categoryID(forClassIndex: 11) == 13)  // stop sign, after the unused 12
        #expect(CocoCategories.categoryID(forClassIndex: 79) == 90)
        #expect(CocoCategories.categoryID(forClassIndex: 80) == nil)
        #expect(CocoCategories.categoryID(forClassIndex: -1) == nil)
        #expect(CocoCategories.name(forClassIndex: 57) == "couch")
        #expect(CocoCategories.classIndex(forCategoryID: 90) == 79)
        #expect(CocoCategories.classIndex(forCategoryID: 12) == nil)
    }

    /// The table against the ground truth shipped in ../shared, when it is there.
    @Test func cocoCategoriesMatchInstancesJSON() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let instances = packageRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/data/coco/val-dev/instances.json")
        guard let data = try? Data(contentsOf: instances) else { return }
        struct Instances: Decodable {
            struct Category: Decodable {
                let id: Int
                let name: String
            }
            let categories: [Category]
        }
        let categories = try JSONDecoder().decode(Instances.self, from: data).categories
        #expect(categories.map(\.id) == CocoCategories.all.map(\.id))
        #expect(categories.map(\.name) == CocoCategories.all.map(\.name))
    }
}
