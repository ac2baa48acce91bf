"""tools/compare.py: the moves of every test average between two results.csv files, largest first, the rows only
one run has, and a clear refusal of a file that is not a results.csv."""
import pandas as pd
import pytest


def results(path, rows):
    cols = ["table", "method", "blind", "level", "subset", "psnr", "ssim"]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path


def test_moves_largest_first_and_the_rows_of_one_run_named(tmp_path):
    from tools.compare import averages, markdown, moves

    a = results(tmp_path / "a.csv", [("2", "DnCNN", 0, "low", "avg", 33.0, 0.9), ("2", "DnCNN", 0, "low", "1", 10.0, 0.1),
                                     ("3", "KPN 5x5", 0, "high", "avg", 30.0, 0.8),
                                     ("3", "BM4D", 0, "high", "avg", 34.0, 0.9)])
    b = results(tmp_path / "b.csv", [("2", "DnCNN", 0, "low", "avg", 33.05, 0.9), ("2", "DnCNN", 0, "low", "1", 50.0, 0.1),
                                     ("3", "KPN 5x5", 0, "high", "avg", 29.7, 0.8),
                                     ("ssl", "Noise2Void", 1, "low", "avg", 29.0, 0.8)])
    both, only = moves(averages(a), averages(b))
    assert list(both.method) == ["KPN 5x5", "DnCNN"]  # a subset row never counts, only the averages
    assert list(both.move) == pytest.approx([-0.3, 0.05])
    text = markdown(both, only, 0.1)
    assert "| 3 | KPN 5x5 | no | high | 30.00 | 29.70 | -0.30 | no |" in text
    assert "1 of 2 averages within 0.1 dB; largest move 0.30 dB" in text
    assert "only in a: table 3, BM4D, high" in text and "only in b: table ssl, Noise2Void, low" in text


def test_a_file_that_is_not_a_results_csv_is_refused_in_one_line(tmp_path):
    from tools.compare import averages

    (tmp_path / "x.csv").write_text("video,scene\nbikes,0\n")
    with pytest.raises(SystemExit, match="x.csv has no column blind; it is not a results.csv"):
        averages(tmp_path / "x.csv")
    with pytest.raises(SystemExit, match="nope.csv is not a file"):
        averages(tmp_path / "nope.csv")
    twice = results(tmp_path / "t.csv", [("2", "DnCNN", 0, "low", "avg", 33.0, 0.9)] * 2)
    with pytest.raises(SystemExit, match="holds one table, method and level twice"):
        averages(twice)
