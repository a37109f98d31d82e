"""Reader training: a smaller reader distilled from the trained one (its layers and loss, on a tiny random
model), and the validation figure that compares runs whatever their bias."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from training.reader.train import distillation_loss, kept_layers, reader_model  # noqa: E402


def test_a_student_keeps_layers_spread_evenly_with_the_last() -> None:
    assert kept_layers(6, 3) == [1, 3, 5]
    assert kept_layers(6, 2) == [2, 5]
    assert kept_layers(6, 6) == [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        initializer_range=0.5,  # logits far from uniform, so that students differ from their teacher
    )
    model = transformers.BertForQuestionAnswering(config).eval()
    path = tmp_path_factory.mktemp("reader")
    model.save_pretrained(str(path))
    return path, model


def inputs(padded: bool = True) -> dict:
    ids = torch.tensor([[1, 5, 6, 2, 7, 8, 9, 2], [1, 5, 2, 7, 8, 2, 0, 0] if padded else [1, 5, 2, 7, 8, 9, 9, 2]])
    mask = (ids != 0).long()
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def test_a_student_is_cut_from_the_teachers_layers(saved) -> None:
    path, teacher = saved
    student = reader_model(path, layers=2).eval()
    assert student.config.num_hidden_layers == 2 and len(student.base_model.encoder.layer) == 2
    for kept, original in zip(
        student.base_model.encoder.layer, [teacher.base_model.encoder.layer[i] for i in (1, 3)], strict=True
    ):
        assert torch.equal(kept.output.dense.weight, original.output.dense.weight)
    assert torch.equal(student.qa_outputs.weight, teacher.qa_outputs.weight)
    assert reader_model(path).config.num_hidden_layers == 4  # 0: every layer


def test_the_loss_is_the_gold_loss_at_alpha_one_and_zero_for_the_teacher_itself(saved) -> None:
    path, teacher = saved
    start, end = torch.tensor([4, 3]), torch.tensor([5, 4])
    gold = teacher(**inputs(padded=False), start_positions=start, end_positions=end).loss
    loss = distillation_loss(teacher, teacher, inputs(padded=False), start, end, temperature=2.0, alpha=1.0)
    assert loss.item() == pytest.approx(gold.item(), rel=1e-5)
    # taught by itself with no weight on the gold spans, nothing is left to learn
    assert distillation_loss(teacher, teacher, inputs(), start, end, temperature=2.0, alpha=0.0).item() == pytest.approx(
        0.0, abs=1e-5
    )
    student = reader_model(path, layers=2).eval()
    assert distillation_loss(student, teacher, inputs(), start, end, temperature=2.0, alpha=0.0).item() > 1e-4


def test_no_answer_windows_are_counted_at_the_margin_that_keeps_most_answers() -> None:
    from training.reader.train import declined_at

    answers = [float(m) for m in range(1, 11)]  # 9 of 10 answered above the margin 1.0
    shares = declined_at(answers, {"near_miss": [-5.0, 1.0, 1.5, 3.0], "article": [9.0]}, answered=0.9)
    assert shares == {"article": 0.0, "near_miss": 0.5}
    # a bias shift moves every margin alike and changes nothing
    shifted = declined_at([m - 4 for m in answers], {"near_miss": [-9.0, -3.0, -2.5, -1.0], "article": [5.0]}, 0.9)
    assert shifted == shares
    assert declined_at([], {"near_miss": [0.0]}) == {}
    # an answer window without a span (margin -inf) among them: a share, not NaN
    assert declined_at([float("-inf")] * 2 + answers[2:], {"near_miss": [0.0, 5.0]}, 0.9) == {"near_miss": 0.0}
