"""Small transformers (random weights) for the zoo: each builder returns a torch module that takes
tensors positionally and returns a tuple of tensors, with example inputs and their names."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

ATTENTIONS = ("sdpa", "eager")
VOCAB = 96
SEQUENCE = 11  # odd on purpose


@dataclasses.dataclass
class Built:
    module: Any
    inputs: dict[str, np.ndarray]
    outputs: tuple[str, ...]


def _ids(batch: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, VOCAB, (batch, length), dtype=np.int64)


def _padding_mask(batch: int, length: int) -> np.ndarray:
    """Ones, with the last rows padded more and more (row b loses b tokens), so masking matters."""
    mask = np.ones((batch, length), np.int64)
    for b in range(batch):
        if b:
            mask[b, length - b:] = 0
    return mask


class _Wrap:
    """Builds a torch.nn.Module calling `model` with keyword arguments named by `names`."""

    @staticmethod
    def make(model: Any, names: tuple[str, ...], pick: Callable[[Any], tuple]) -> Any:
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *args):
                return pick(self.model(**dict(zip(names, args))))

        return Wrapped().eval()


def _config_attention(config: Any, attention: str) -> Any:
    config._attn_implementation = attention
    return config


def bert(attention: str, batch: int = 2, config: Any = None, sequence: int = SEQUENCE) -> Built:
    """A small BERT, or one of `config`'s sizes (the benchmarks')."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = config or BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    model = BertModel(_config_attention(config, attention), add_pooling_layer=True).eval()
    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = {"input_ids": _ids(batch, sequence, 1), "attention_mask": _padding_mask(batch, sequence),
              "token_type_ids": (np.arange(sequence)[None].repeat(batch, 0) > sequence // 2).astype(np.int64)}
    return Built(_Wrap.make(model, names, lambda o: (o.last_hidden_state, o.pooler_output)), inputs,
                 ("last_hidden_state", "pooler_output"))


def distilbert(attention: str, batch: int = 2) -> Built:
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                              max_position_embeddings=64)
    model = DistilBertModel(_config_attention(config, attention)).eval()
    names = ("input_ids", "attention_mask")
    inputs = {"input_ids": _ids(batch, SEQUENCE, 2), "attention_mask": _padding_mask(batch, SEQUENCE)}
    return Built(_Wrap.make(model, names, lambda o: (o.last_hidden_state,)), inputs, ("last_hidden_state",))


def gpt2_config(attention: str) -> Any:
    from transformers import GPT2Config

    return _config_attention(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                        bos_token_id=0, eos_token_id=VOCAB - 1), attention)


def llama_config(attention: str) -> Any:
    from transformers import LlamaConfig

    return _config_attention(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=128, rms_norm_eps=1e-5,
                                         bos_token_id=0, eos_token_id=VOCAB - 1), attention)


def _causal_lm(config: Any, batch: int, seed: int, sequence: int = SEQUENCE) -> Built:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    names = ("input_ids", "attention_mask")
    inputs = {"input_ids": _ids(batch, sequence, seed), "attention_mask": np.ones((batch, sequence), np.int64)}
    return Built(_Wrap.make(model, names, lambda o: (o.logits,)), inputs, ("logits",))


def gpt2(attention: str, batch: int = 2, config: Any = None, sequence: int = SEQUENCE) -> Built:
    """A small GPT-2, or one of `config`'s sizes (the benchmarks')."""
    config = _config_attention(config, attention) if config else gpt2_config(attention)
    return _causal_lm(config, batch, 3, sequence)


def llama(attention: str, batch: int = 2) -> Built:
    return _causal_lm(llama_config(attention), batch, 4)


def _images(batch: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size), dtype=np.float32)


def vit(attention: str, batch: int = 2, config: Any = None) -> Built:
    """A small ViT, or one of `config`'s sizes (the benchmarks')."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = config or ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=64, num_labels=10)
    model = ViTForImageClassification(_config_attention(config, attention)).eval()
    return Built(_Wrap.make(model, ("pixel_values",), lambda o: (o.logits,)),
                 {"pixel_values": _images(batch, config.image_size, 5)}, ("logits",))


def clip_vision(attention: str, batch: int = 2) -> Built:
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    config = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=64, projection_dim=16)
    model = CLIPVisionModel(_config_attention(config, attention)).eval()
    return Built(_Wrap.make(model, ("pixel_values",), lambda o: (o.last_hidden_state, o.pooler_output)),
                 {"pixel_values": _images(batch, 32, 6)}, ("last_hidden_state", "pooler_output"))


def whisper_encoder(attention: str, batch: int = 2, config: Any = None) -> Built:
    """A small Whisper encoder, or one of `config`'s sizes (the benchmarks'), on a full window of features."""
    import torch
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    torch.manual_seed(0)
    config = config or WhisperConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, encoder_attention_heads=4,
                                     decoder_layers=1, decoder_attention_heads=4, encoder_ffn_dim=64,
                                     decoder_ffn_dim=64, num_mel_bins=16, max_source_positions=24,
                                     max_target_positions=16)
    model = WhisperEncoder(_config_attention(config, attention)).eval()
    shape = (batch, config.num_mel_bins, 2 * config.max_source_positions)
    features = np.random.default_rng(7).standard_normal(shape, dtype=np.float32)
    return Built(_Wrap.make(model, ("input_features",), lambda o: (o.last_hidden_state,)),
                 {"input_features": features}, ("last_hidden_state",))


def t5_encoder(attention: str, batch: int = 2) -> Built:
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    config = T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=8, relative_attention_max_distance=16)
    model = T5EncoderModel(_config_attention(config, attention)).eval()
    names = ("input_ids", "attention_mask")
    inputs = {"input_ids": _ids(batch, SEQUENCE, 8), "attention_mask": _padding_mask(batch, SEQUENCE)}
    return Built(_Wrap.make(model, names, lambda o: (o.last_hidden_state,)), inputs, ("last_hidden_state",))


BUILDERS: dict[str, Callable[..., Built]] = {
    "bert": bert, "distilbert": distilbert, "gpt2": gpt2, "llama": llama, "vit": vit,
    "clip_vision": clip_vision, "whisper_encoder": whisper_encoder, "t5_encoder": t5_encoder,
}


def _text(model_class: str, config: Any, outputs: Callable[[Any], tuple], names: tuple[str, ...],
          seed: int, batch: int = 2, mask: Callable[[int, int], np.ndarray] = _padding_mask) -> Built:
    import torch
    import transformers

    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config).eval()
    inputs = {"input_ids": _ids(batch, SEQUENCE, seed), "attention_mask": mask(batch, SEQUENCE)}
    return Built(_Wrap.make(model, ("input_ids", "attention_mask"), outputs), inputs, names)


def _vision(model_class: str, config: Any, outputs: Callable[[Any], tuple], names: tuple[str, ...],
            size: int, seed: int, batch: int = 2, prepare: Callable[[Any, int], None] | None = None) -> Built:
    import torch
    import transformers

    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config)
    if prepare:
        prepare(model, size)
    model.eval()
    return Built(_Wrap.make(model, ("pixel_values",), outputs), {"pixel_values": _images(batch, size, seed)}, names)


def _last(o: Any) -> tuple:
    return (o.last_hidden_state,)


def _logits(o: Any) -> tuple:
    return (o.logits,)


def _ones(batch: int, length: int) -> np.ndarray:
    return np.ones((batch, length), np.int64)


def roberta(attention: str = "sdpa") -> Built:
    from transformers import RobertaConfig
    config = RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=64, pad_token_id=1)
    return _text("RobertaModel", _config_attention(config, attention), _last, ("last_hidden_state",), 9)


def albert(attention: str = "sdpa") -> Built:
    from transformers import AlbertConfig
    config = AlbertConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)
    return _text("AlbertModel", _config_attention(config, attention), _last, ("last_hidden_state",), 10)


def opt(attention: str = "sdpa") -> Built:
    from transformers import OPTConfig
    config = OPTConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
                       max_position_embeddings=64, word_embed_proj_dim=32)
    return _text("OPTForCausalLM", _config_attention(config, attention), _logits, ("logits",), 11, mask=_ones)


def qwen2(attention: str = "sdpa") -> Built:
    from transformers import Qwen2Config
    config = Qwen2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return _text("Qwen2ForCausalLM", _config_attention(config, attention), _logits, ("logits",), 12, mask=_ones)


def deit(attention: str = "sdpa") -> Built:
    from transformers import DeiTConfig
    config = DeiTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=10)
    return _vision("DeiTForImageClassification", _config_attention(config, attention), _logits, ("logits",), 32, 13)


def swin(attention: str = "sdpa") -> Built:
    from transformers import SwinConfig
    config = SwinConfig(image_size=32, patch_size=2, embed_dim=16, depths=[1, 2], num_heads=[2, 4], window_size=4,
                        num_labels=10)
    return _vision("SwinForImageClassification", _config_attention(config, attention), _logits, ("logits",), 32, 14)


def convnext_hf(attention: str = "sdpa") -> Built:
    from transformers import ConvNextConfig
    config = ConvNextConfig(num_channels=3, hidden_sizes=[16, 32], depths=[1, 1], num_stages=2, num_labels=10)
    return _vision("ConvNextForImageClassification", config, _logits, ("logits",), 32, 15)


def segformer(attention: str = "sdpa") -> Built:
    from transformers import SegformerConfig
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                             num_attention_heads=[1, 2], patch_sizes=[7, 3], strides=[4, 2], mlp_ratios=[2, 2],
                             decoder_hidden_size=32, num_labels=5)
    return _vision("SegformerForSemanticSegmentation", _config_attention(config, attention), _logits, ("logits",),
                   32, 16)


def _unit_gain(model: Any, size: int) -> None:
    """Seeded weights that keep activations at unit scale (convolutions and linears drawn with
    deviation sqrt(2 / fan-in), norms scaling by 0.5 to 1.5) and BatchNorm statistics re-estimated
    on random images: as initialised (deviation 0.02, norms too), a deep convolutional stack's
    features shrink to zero."""
    from metalnn.torchvision_models import reestimate_batch_norm
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
            elif isinstance(layer, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                layer.weight.uniform_(0.5, 1.5, generator=generator)
            else:
                continue
            if layer.bias is not None:
                layer.bias.uniform_(-0.1, 0.1, generator=generator)
    reestimate_batch_norm(model, size)


def mobilevit(attention: str = "sdpa") -> Built:
    from transformers import MobileViTConfig
    config = MobileViTConfig(image_size=32, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32],
                             num_labels=10)
    # Eager attention only; the classifier head starts at zero, so the features are compared.
    return _vision("MobileViTModel", config, lambda o: (o.last_hidden_state, o.pooler_output),
                   ("last_hidden_state", "pooler_output"), 32, 17, prepare=_unit_gain)


def wav2vec2(attention: str = "sdpa", batch: int = 2) -> Built:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=8,
                            num_conv_pos_embedding_groups=4, feat_extract_norm="group", do_stable_layer_norm=False)
    model = Wav2Vec2Model(_config_attention(config, attention)).eval()
    audio = np.random.default_rng(18).standard_normal((batch, 400), dtype=np.float32)
    return Built(_Wrap.make(model, ("input_values",), _last), {"input_values": audio}, ("last_hidden_state",))


BUILDERS.update({
    "roberta": roberta, "albert": albert, "opt": opt, "qwen2": qwen2, "deit": deit, "swin": swin,
    "convnext_hf": convnext_hf, "segformer": segformer, "mobilevit": mobilevit, "wav2vec2": wav2vec2,
})
